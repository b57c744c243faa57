"""What the `tools/` scripts run: dispatch (`cli`), arguments (`args`), the checks before an engine is built
(`preflight`), PaddleClas's Engine with its patches (`tree_engine`), `-o` typos (`typos`), CPU threads
(`threads`), output filtering (`quiet`), export and prediction (`export`, `predict`, `summary`), the
broken-image namer (`broken_images`), the PaddleX helper (`paddlex`), what a training run keeps whole
(`runs`), the standalone engine (`standalone`), the comparison of a recipe with its twin (`compare`) and
the data tools (`data`). It imports the adapter and the core; the standalone engine is imported only when
it runs."""
