"""The README's first screen is what `benchmarks/first_screen.py` recomputes from the studies' result files."""

import itertools
import os

import first_screen

from engine_runs import PROJECT

MARKER = "<!-- first-screen: benchmarks/first_screen.py -->"


def readme():
    with open(os.path.join(PROJECT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def test_the_readme_table_is_what_the_result_files_give():
    after = readme().split(MARKER, 1)[1].lstrip("\n").splitlines()
    assert list(itertools.takewhile(lambda line: line.startswith("|"), after)) == first_screen.table()
