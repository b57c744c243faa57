"""PaddleClas glue, all of it: the YAML contract (config), the R-Drop train hook (engine_hook), the
guards of every run (guards), registration into a PaddleClas source tree (tree), what the tools run
(cli, threads) and prediction from an export with PaddleClas's deploy predictor (predict)."""
