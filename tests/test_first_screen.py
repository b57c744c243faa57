"""The README's first screen is what `benchmarks/first_screen.py` recomputes from the studies' result files (the
table and the sentence on what pays under corruption), and the README stays at most 1,500 words (the rest is in
docs/)."""

import itertools
import os

import first_screen
from hypothesis import given, settings
from hypothesis import strategies as st

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


CELL = st.tuples(st.floats(-5, 5), st.floats(0.001, 5), st.integers(2, 12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CELL, st.floats(0.5, 3), CELL), min_size=1, max_size=3))
def test_the_sentence_names_exactly_the_variants_whose_interval_lies_above_zero(entries):
    found = [(f"variant {index}", cell, ratio, longer, True) for index, (cell, ratio, longer) in enumerate(entries)]
    sentence = first_screen.shift_words(found)
    paying = [variant for variant, cell, *_ in found if cell[0] - cell[1] > 0]
    assert [variant for variant, *_ in found if f"{variant}, " in sentence] == paying
    assert sentence.startswith("Under corruption no variant pays") == (not paying)
    assert "once the robustness study ends" in first_screen.shift_words(found[:-1] + [(*found[-1][:4], False)])


def test_the_readme_is_at_most_1500_words():
    words = len(readme().split())  # as `wc -w README.md` counts them
    assert words <= MAX_WORDS, f"README.md has {words} words; move the rest to docs/"
