"""`did_you_mean`: the hint of an unknown-key error names the closest known key, or nothing."""

from paddleclas_rdrop.core.errors import did_you_mean


def test_the_closest_known_key_is_named_case_insensitively():
    assert did_you_mean("epoch", ["epochs", "eval_interval", "save_interval"]) == " (did you mean `epochs`?)"
    assert did_you_mean("RDorp", ["RDrop"]) == " (did you mean `RDrop`?)"
    assert did_you_mean("WIEGHT", ["weight", "reduction"]) == " (did you mean `weight`?)"


def test_a_key_close_to_none_gets_no_hint():
    assert did_you_mean("Arch", ["RDrop"]) == ""
    assert did_you_mean("seed", ["epochs", "device"]) == ""
