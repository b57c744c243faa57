"""PaddleClas's side of the plugin: the YAML contract parsed once into `RDropSettings` (`settings`), the
R-Drop train hook (`train_hook`), the guards of a training run (`guards`), registration into a
PaddleClas source tree (`registry`) and deep mutual learning's model and contract (`mutual`).
It imports the core only."""
