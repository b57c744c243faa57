"""Data tools: PaddleClas list files (lists), offline demo datasets (demo: digits, Fashion-MNIST)
and CSV to list files (csv_lists)."""
