"""What the `tools/` scripts run: the command line (`cli`), CPU threads (`threads`), output filtering
(`quiet`), export and prediction (`export`, `predict`, `summary`), the broken-image namer
(`broken_images`), the standalone engine (`standalone`) and the data tools (`data`). It imports the
adapter and the core; the standalone engine is imported only when it runs."""
