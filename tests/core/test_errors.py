"""`did_you_mean`: the hint of an unknown-key error names the closest known key, or nothing. A number a setting
takes is finite. The errors carry their data as declared fields, set when they are made."""

import os
import pickle

import pytest

from paddleclas_rdrop.core.errors import (
    ConfigError,
    DataError,
    SaveError,
    TrainingStopped,
    check_rate,
    did_you_mean,
    finite_number,
)


def test_the_closest_known_key_is_named_case_insensitively():
    assert did_you_mean("epoch", ["epochs", "eval_interval", "save_interval"]) == " (did you mean `epochs`?)"
    assert did_you_mean("RDorp", ["RDrop"]) == " (did you mean `RDrop`?)"
    assert did_you_mean("WIEGHT", ["weight", "reduction"]) == " (did you mean `weight`?)"


def test_a_key_close_to_none_gets_no_hint():
    assert did_you_mean("Arch", ["RDrop"]) == ""
    assert did_you_mean("seed", ["epochs", "device"]) == ""


def test_every_error_declares_told_and_a_stop_its_line():
    for error in (ConfigError("a"), DataError("b"), SaveError("c"), TrainingStopped("SIGTERM", 2, 5)):
        assert vars(error)["told"] is False  # set in __init__, not read with a default
    stop = TrainingStopped("SIGTERM", 2, 5)
    assert (stop.signal_name, stop.epoch, stop.step, stop.line) == ("SIGTERM", 2, 5, None)
    assert str(stop) == "SIGTERM at epoch 2, step 5"
    assert TrainingStopped("SIGINT", 1, 0, line="stopped by SIGINT in epoch 1").line == "stopped by SIGINT in epoch 1"
    assert str(SaveError("the checkpoint x could not be written")) == "the checkpoint x could not be written"
    copied = pickle.loads(pickle.dumps(ConfigError("a")))  # as a data loader's worker hands an error back
    assert str(copied) == "a" and copied.told is False


def test_nan_and_inf_are_not_numbers_a_setting_takes():
    assert finite_number(0.5) and finite_number(3) and finite_number(-1e300)
    for value in (float("nan"), float("inf"), float("-inf"), True, "1", None):
        assert not finite_number(value), value
        with pytest.raises(ConfigError, match="must be a number in"):
            check_rate(value, "RDrop.head_dropout", "dropout", "0.1")


def test_an_os_error_of_a_named_path_names_its_key_the_os_s_reason_and_the_fix(tmp_path, monkeypatch):
    from paddleclas_rdrop.core.errors import PathError, naming_paths

    (tmp_path / "taken").write_text("")
    out = str(tmp_path / "taken" / "x.csv")
    with pytest.raises(PathError) as refused:
        with naming_paths({"--csv": str(tmp_path / "in.csv"), "--out": out}):
            open(out, "w")
    assert str(refused.value) == (
        f"--out {out}: {tmp_path / 'taken'} is a file, not a folder (Not a directory): give a path elsewhere, or "
        "move that file away"
    )
    long = tmp_path / ("z" * 300)
    with pytest.raises(PathError) as too_long:
        with naming_paths({"Global.output_dir": str(long), "Global.save_inference_dir": str(tmp_path / "export")}):
            os.makedirs(long / "inference")  # a folder under the key's: the key is named
    assert str(too_long.value) == (
        f"Global.output_dir {long}: File name too long: give a shorter path (a name in it is over the file system's "
        "limit, 255 bytes on most)"
    )
    with pytest.raises(FileNotFoundError):  # a file no key names passes as it is
        with naming_paths({"--out": out}):
            open(tmp_path / "missing.csv")
    monkeypatch.setenv("PADDLECLAS_RDROP_TRACEBACK", "1")
    with pytest.raises(NotADirectoryError):  # the traceback asked for
        with naming_paths({"--out": out}):
            open(out, "w")
