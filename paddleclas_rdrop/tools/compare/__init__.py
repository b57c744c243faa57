"""`tools/compare.py`: does R-Drop help on my data? A recipe against its baseline twin over paired seeds."""
