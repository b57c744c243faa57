"""The README's first screen is what `benchmarks/first_screen.py` recomputes from the studies' result files (the
table and the sentence on what pays under corruption), and the README stays at most 1,500 words (the rest is in
docs/)."""

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


def test_the_readme_says_what_pays_under_corruption_as_the_result_files_give():
    text = " ".join(readme().split())
    after_table = text.split("paid more. ", 1)[1]
    assert after_table.split(" `tools/compare.py` answers", 1)[0] == first_screen.shift_sentence()


def test_the_sentence_on_corruption_waits_for_the_study_then_names_each_variant_that_pays_or_none():
    above, across = (1.0, 0.4, 10), (0.3, 0.4, 6)  # (mean, half-width, seeds): [+0.60, +1.40] and [-0.10, +0.70]
    waiting = first_screen.shift_words([("A", above, 1.8, across, True), ("B", None, None, None, False)])
    assert waiting.startswith("Which variant pays under corruption") and "once the robustness study ends" in waiting
    assert first_screen.shift_words([("A", across, 1.8, across, True)]) == (
        "Under corruption no variant pays: no interval lies above zero."
    )
    paying = first_screen.shift_words([("A", above, 1.8, across, True), ("B", across, 1.1, above, True)])
    assert paying == (
        "Under corruption, what pays: A, +1.00 [+0.60, +1.40] points at 1.80x one pass's training time "
        "(+0.30 [-0.10, +0.70] against one pass trained as long)."
    )


def test_the_readme_is_at_most_1500_words():
    words = len(readme().split())  # as `wc -w README.md` counts them
    assert words <= MAX_WORDS, f"README.md has {words} words; move the rest to docs/"
