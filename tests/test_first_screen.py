"""The README's first screen is what `benchmarks/first_screen.py` recomputes from the studies' result files,
and the README stays at most 1,500 words (the rest is in docs/)."""

import itertools
import os

import first_screen

from engine_runs import PROJECT

MARKER = "<!-- first-screen: benchmarks/first_screen.py -->"
MAX_WORDS = 1500


def readme():
    with open(os.path.join(PROJECT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def test_the_readme_table_is_what_the_result_files_give():
    after = readme().split(MARKER, 1)[1].lstrip("\n").splitlines()
    assert list(itertools.takewhile(lambda line: line.startswith("|"), after)) == first_screen.table()


def test_the_readme_is_at_most_1500_words():
    words = len(readme().split())  # as `wc -w README.md` counts them
    assert words <= MAX_WORDS, f"README.md has {words} words; move the rest to docs/"
