"""The math and the model surgery of R-Drop, on paddle alone (a plain Paddle loop uses them): the
symmetric KL (`kl`), `RDropLoss` (`loss`), the k-pass runner and the stochastic layers it adds
(`runner`, `drop_path`), deep mutual learning's loss and metric (`mutual`), and the errors (`errors`).
Nothing here imports PaddleClas or the other layers."""
