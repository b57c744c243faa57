"""A checkpoint file a run loads that is missing, cut short, empty or not paddle.save's is one line naming the key,
the file and the fix, before anything is written, on both engines (`tools/runs/checkpoint_files.py`)."""

import os

import paddle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.core.errors import DataError
from paddleclas_rdrop.tools.runs.checkpoint_files import load_part

from engine_runs import ENGINES, assert_refused, engine_param, overrides, refusals, run_tool

PARTS = (".pdparams", ".pdopt", ".pdstates")


def checkpoint(folder, fault=None):
    """A checkpoint `folder/epoch_1` with `fault`, (part, what): the part `removed`, `cut` to half its bytes,
    `empty`, `text` or a pickled `list`; its path without .pdparams. Its tensors are a few small ones: the files
    are refused before a model is built."""
    os.makedirs(folder, exist_ok=True)
    prefix = os.path.join(folder, "epoch_1")
    paddle.seed(0)
    paddle.save({"conv.weight": paddle.randn([8, 3, 3, 3]), "out.bias": paddle.zeros([10])}, prefix + ".pdparams")
    paddle.save({"out.bias_velocity_0": paddle.zeros([10]), "LR_Scheduler": {"last_epoch": 3}}, prefix + ".pdopt")
    paddle.save({"epoch": 1, "metric": 0.5}, prefix + ".pdstates")
    if fault:
        part, what = fault
        path = prefix + part
        if what == "removed":
            os.remove(path)
        elif what == "cut":
            os.truncate(path, os.path.getsize(path) // 2)
        elif what == "list":
            paddle.save([1, 2], path)
        else:
            with open(path, "w") as handle:
                handle.write("" if what == "empty" else "garbage\n")
    return prefix


FAULTS = [
    ((".pdopt", "removed"), "epoch_1.pdopt does not exist (the run loads"),
    ((".pdstates", "removed"), "epoch_1.pdstates does not exist (the run loads"),
    ((".pdparams", "cut"), "epoch_1.pdparams cannot be read ("),
    ((".pdopt", "empty"), "epoch_1.pdopt cannot be read (0 bytes;"),
    ((".pdstates", "text"), "epoch_1.pdstates cannot be read (8 bytes;"),
    ((".pdstates", "list"), "epoch_1.pdstates holds a list, not the dict a checkpoint's file holds"),
]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_checkpoint_file_missing_or_unreadable_is_one_line_before_anything_is_written(engine, workdir):
    """A resume's (each fault of `FAULTS`), and pretrained weights cut short (the same check at eval and export:
    `run_config.load_run`)."""
    cases, folders = [], []
    for index, (fault, _) in enumerate(FAULTS):
        prefix = checkpoint(str(workdir / f"faulty_{engine}{index}"), fault)
        folders.append(workdir / f"resumed_{engine}{index}")
        cases.append(overrides(workdir, folders[-1].name, epochs=2) + [f"Global.checkpoints={prefix}"])
    cut = checkpoint(str(workdir / f"cut_{engine}"), (".pdparams", "cut"))
    folders.append(workdir / f"from_cut_{engine}")
    cases.append(overrides(workdir, folders[-1].name) + [f"Global.pretrained_model={cut}"])
    *resumes, pretrained = refusals("train", "rdrop_se_resnet.yaml", cases, cwd=workdir, env=ENGINES[engine])
    for (_, message), error, folder in zip(FAULTS, resumes, folders):
        assert_refused(error, f"Global.checkpoints: {workdir}/faulty_", folder)
        assert message in error and "resume from another checkpoint of" in error, error
    assert_refused(pretrained, f"Global.pretrained_model: {cut}.pdparams cannot be read (", folders[-1])
    assert "point Global.pretrained_model at weights that paddle.save wrote whole" in pretrained


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The bytes of each part of a whole checkpoint."""
    prefix = checkpoint(str(tmp_path_factory.mktemp("whole")))
    return {part: open(prefix + part, "rb").read() for part in PARTS}


@settings(max_examples=40, deadline=None)
@given(part=st.sampled_from(PARTS), cut=st.floats(0, 1, exclude_max=True), flip=st.integers(0, 255))
def test_a_checkpoint_file_cut_anywhere_or_with_a_byte_changed_reads_or_is_one_data_error(
    whole, tmp_path_factory, part, cut, flip
):
    """Whatever paddle.load makes of a cut file (or one whose first byte is changed), `load_part` returns what
    loaded or raises DataError naming the file: never another exception."""
    data = bytearray(whole[part][: int(len(whole[part]) * cut)])
    if data:
        data[0] = flip
    prefix = str(tmp_path_factory.mktemp("cut") / "epoch_1")
    with open(prefix + part, "wb") as handle:
        handle.write(data)
    try:
        loaded = load_part("Global.checkpoints", prefix, part, PARTS)
    except DataError as error:
        assert f"Global.checkpoints: {prefix}{part} " in str(error) and "\n" not in str(error)
    else:
        assert isinstance(loaded, (dict, list))
    finally:
        os.remove(prefix + part)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_eval_is_refused_a_resume_checkpoint_and_an_export_of_random_weights_says_so(engine, workdir):
    resume = checkpoint(str(workdir / f"resume_{engine}"))
    out = workdir / f"eval_{engine}"
    (error,) = refusals(
        "eval",
        "rdrop_se_resnet.yaml",
        [overrides(workdir, out.name) + [f"Global.checkpoints={resume}"]],
        workdir,
        env=ENGINES[engine],
    )
    assert_refused(error, f"Global.checkpoints: {resume} is read by tools/train.py only (a resume); tools/eval.py", out)
    assert error.endswith(f"give -o Global.pretrained_model={resume}")
    export = workdir / f"export_{engine}"
    small = ["Arch.name=MobileNetV1_x0_25", "RDrop.head_layer=fc", "RDrop.drop_path=0"]  # a quick export
    args = overrides(workdir, export.name) + small + [f"Global.save_inference_dir={export}/inference"]
    result = run_tool("export_model.py", "rdrop_se_resnet.yaml", args, cwd=workdir, env=ENGINES[engine])
    said = "no weights are loaded (Global.pretrained_model is not set, nor Arch.pretrained): tools/export_model.py"
    assert (result.stdout + result.stderr).count(said) == 1
    assert (export / "inference" / "inference.pdiparams").is_file()
