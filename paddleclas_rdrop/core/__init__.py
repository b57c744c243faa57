"""The R-Drop method on paddle alone (a plain Paddle loop uses it): the symmetric KL (`kl`), `RDropLoss`
(`loss`), the k-pass runner (`runner`) and its shared trunk (`shared_trunk`), drop path (`drop_path`), head
dropout (`head_dropout`), what they read off a model (`models`), calibration (`calibration`), cross-entropy
with a weight per class (`class_weighted_ce`) and the errors, with the facts the runner raises (`errors`).
Nothing here imports PaddleClas or the other layers, nor names a key of PaddleClas's YAML."""
