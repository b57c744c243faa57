"""The standalone engine (no PaddleClas source tree): the tools as a pip-only user runs them."""

import os
import re

import pytest
from conftest import delete_weights

from engine_runs import (
    CONFIGS,
    ENGINES,
    PROJECT,
    TINY,
    assert_export_matches_eager,
    assert_quiet,
    assert_refused,
    overrides,
    refusals,
    run_tool,
    step_losses,
)

NO_TREE = {"PADDLECLAS_ROOT": ""}


def standalone(tool, config, workdir, extra, check=True, fresh=False):
    return run_tool(tool, config, extra, cwd=workdir, env=NO_TREE, check=check, fresh=fresh)


@pytest.fixture(scope="module")
def trained(workdir):
    """{config name: (its log, the files its run wrote)}; only res2net's weights stay, for the later tests."""
    logs = {}
    for name in CONFIGS:
        epochs = 2 if name == "res2net" else 1
        # seeded, so that the models the later tests export and compare are the same on every run
        result = standalone(
            "train.py",
            f"rdrop_{name}.yaml",
            workdir,
            overrides(workdir, name, epochs, every_epoch=True) + ["Global.seed=0"],
            fresh=True,  # a new interpreter: its log is checked for start-up noise (assert_quiet)
        )
        logs[name] = result.stdout + result.stderr, sorted(os.listdir(workdir / name))
        if name != "res2net":
            delete_weights(workdir / name)
    return logs


@pytest.fixture(scope="module")
def tiny_trained(workdir):
    """The keys of a one-epoch TINY run on the digits, its `latest` as the pretrained model: for the tests
    of what eval, export and predict do with any model."""
    extra = overrides(workdir, "tiny") + TINY + ["Global.seed=0"]
    standalone("train.py", "rdrop_res2net.yaml", workdir, extra)
    return extra + [f"Global.pretrained_model={workdir}/tiny/latest"]


@pytest.mark.parametrize("name", CONFIGS)
def test_rdrop_trains_on_the_wheel_alone_and_says_which_engine(name, trained):
    log, written = trained[name]
    assert (
        log.lstrip().splitlines()[0].startswith("paddleclas-rdrop: standalone engine")
        or "paddleclas-rdrop: standalone engine" in log.split("[Train]")[0]
    )
    kl = step_losses(log, "RDropLoss")
    assert kl and all(value > 0 for value in kl)
    assert "[Eval][Epoch 1][Avg]" in log and "eta: " in log
    assert_quiet(log)  # with -o Global.seed, which the YAML does not spell out
    for prefix in ("best_model", "latest", "epoch_1"):
        for suffix in (".pdparams", ".pdopt", ".pdstates"):
            assert prefix + suffix in written, prefix + suffix


def test_the_help_says_what_the_tool_does_and_names_the_rdrop_keys(workdir):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, os.path.join(PROJECT, "tools", "train.py"), "-h"],
        cwd=workdir,
        env={**os.environ, **NO_TREE},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: tools/train.py" in result.stdout and "generic-image-rec" not in result.stdout
    for key in (
        "Global.train_mode: rdrop",
        "RDrop.drop_path:",
        "RDrop.drop_path_stages:",
        "RDrop.head_dropout:",
        "RDropLoss: {weight: alpha",
    ):
        assert key in result.stdout, key


def test_resume_from_a_checkpoint_continues_at_the_next_epoch(trained, workdir):
    # the same schedule (2 epochs) as the run it continues: a longer one is refused (test_nothing_to_train.py)
    extra = overrides(workdir, "res2net_resumed", epochs=2) + [
        f"Global.checkpoints={workdir}/res2net/epoch_1",
        "Global.seed=0",
    ]
    log = standalone("train.py", "rdrop_res2net.yaml", workdir, extra).stdout
    assert "Finish load checkpoints" in log
    assert "[Train][Epoch 2/2]" in log and "[Train][Epoch 1/2]" not in log


def test_a_recipes_export_gives_its_eager_networks_softmax(trained, workdir):
    """Res2Net's recipe (drop path on its blocks, dropout before its head) exported by this engine: the
    deploy predictor's softmax is the stock Res2Net50_vd_26w_4s's with the trained weights, in eval mode."""
    extra = overrides(workdir, "res2net", epochs=2) + [f"Global.pretrained_model={workdir}/res2net/latest"]
    standalone("export_model.py", "rdrop_res2net.yaml", workdir, extra)
    assert_export_matches_eager(
        os.path.join(PROJECT, "configs", "rdrop_res2net.yaml"),
        extra,
        str(workdir / "res2net" / "inference"),
        str(workdir / "res2net" / "latest.pdparams"),
        CONFIGS["res2net"],
        [str(workdir / "digits" / "images" / f"{i:05d}.png") for i in range(4)],
    )


def test_eval_export_infer_and_predict(tiny_trained, workdir):
    extra = tiny_trained  # any model's eval, export and predict (a recipe's export: the test above)
    log = standalone("eval.py", "rdrop_res2net.yaml", workdir, extra).stdout
    assert "[Eval][Avg]" in log and "top1: " in log and "[Eval][Epoch" not in log  # eval.py evaluates no epoch
    exported = standalone("export_model.py", "rdrop_res2net.yaml", workdir, extra)
    assert "full_graph=False" not in exported.stderr  # Paddle's warning at every export, quietened
    export = workdir / "tiny" / "inference"
    for name in ("inference.json", "inference.pdiparams", "inference.yml"):
        assert (export / name).exists(), name
    paths = [str(workdir / "digits" / "images" / f"{i:05d}.png") for i in range(6)]
    expected = assert_export_matches_eager(
        os.path.join(PROJECT, "configs", "rdrop_res2net.yaml"),
        extra,
        str(export),
        str(workdir / "tiny" / "latest.pdparams"),
        TINY[0].split("=")[1],
        paths,
    )
    top1 = int(expected[0].argmax())
    predicted = standalone("predict.py", "rdrop_res2net.yaml", workdir, extra).stdout.splitlines()
    first_val = int(expected[1].argmax())  # Infer.infer_imgs is image 1, the first of the val list
    assert len(predicted) == 1 and re.fullmatch(rf"{paths[1]}: {first_val} .*; true label \d", predicted[0])
    assert f"'class_ids': [{first_val}," in standalone("infer.py", "rdrop_res2net.yaml", workdir, extra).stdout
    missing_images = standalone(
        "predict.py", "rdrop_res2net.yaml", workdir, extra + ["Infer.infer_imgs=nowhere/x.png"], check=False
    )
    assert missing_images.returncode != 0 and "Traceback" not in missing_images.stderr
    assert "error: Infer.infer_imgs: no image (jpg, jpeg, png, bmp) at 'nowhere/x.png'" in missing_images.stderr
    folder = workdir / "to_predict"  # an upper-case extension is an image; anything else is named as skipped
    folder.mkdir()
    (folder / "B.PNG").write_bytes((workdir / "digits" / "images" / "00000.png").read_bytes())
    (folder / "notes.txt").write_text("not an image")
    predicted = standalone("predict.py", "rdrop_res2net.yaml", workdir, extra + [f"Infer.infer_imgs={folder}"]).stdout
    assert f"B.PNG: {top1} " in predicted  # image 0
    assert f"skipped {folder / 'notes.txt'}: not an image file (jpg, jpeg, png, bmp)" in predicted
    labels = workdir / "twelve_labels.txt"  # a label list of another class count: one line, no KeyError
    labels.write_text("".join(f"{i} class{i}\n" for i in range(12)))
    wrong = standalone(
        "predict.py",
        "rdrop_res2net.yaml",
        workdir,
        extra + [f"Infer.PostProcess.class_id_map_file={labels}"],
        check=False,
    )
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert f"gives 10 classes but {labels} names 12: export the model trained for this label list" in wrong.stderr


def test_an_export_is_written_whole_or_not_at_all(tiny_trained, workdir):
    import hashlib

    extra = tiny_trained
    export = workdir / "whole_export"
    standalone(
        "export_model.py",
        "rdrop_res2net.yaml",
        workdir,
        extra + [f"Global.save_inference_dir={export}", "Infer.PostProcess.class_id_map_file=None"],
    )
    files = sorted(path.name for path in export.iterdir())
    assert files == ["inference.json", "inference.pdiparams", "inference.yml"]
    assert "- '9'" in (export / "inference.yml").read_text()  # no class map: the ids are the names
    predicted = standalone(
        "predict.py",
        "rdrop_res2net.yaml",
        workdir,
        extra + [f"Global.save_inference_dir={export}", "Infer.PostProcess.class_id_map_file=None"],
    )
    lines = [line for line in predicted.stdout.splitlines() if line.endswith("%") or "; true label " in line]
    assert lines and all(
        re.fullmatch(r"\S+\.png: (\d+ \d+\.\d %, ){4}\d+ \d+\.\d %; true label \d+", line) for line in lines
    )

    # a failure after the model files are written (a mistyped class map) leaves the export as it was
    digest = {name: hashlib.sha256((export / name).read_bytes()).hexdigest() for name in files}
    failed = standalone(
        "export_model.py",
        "rdrop_res2net.yaml",
        workdir,
        extra
        + [
            f"Global.save_inference_dir={export}",
            "Infer.PostProcess.class_id_map_file=labels_typo.txt",
            "Global.pretrained_model=None",
        ],
        check=False,
    )
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "error: Infer.PostProcess.class_id_map_file: labels_typo.txt not found" in failed.stderr
    assert {name: hashlib.sha256((export / name).read_bytes()).hexdigest() for name in files} == digest
    assert sorted(path.name for path in workdir.iterdir() if "partial" in path.name) == []

    # a damaged export is refused in one line
    (export / "inference.pdiparams").write_bytes((export / "inference.pdiparams").read_bytes()[:1000])
    damaged = standalone(
        "predict.py", "rdrop_res2net.yaml", workdir, extra + [f"Global.save_inference_dir={export}"], check=False
    )
    errors = [line for line in damaged.stderr.splitlines() if line.startswith("error: ")]
    assert damaged.returncode != 0 and "Traceback" not in damaged.stderr
    assert len(errors) == 1 and f"the export in {export} cannot be loaded" in errors[0]


def test_predict_names_a_missing_export_before_missing_images(workdir):
    extra = overrides(workdir, "never_exported") + ["Infer.infer_imgs=nowhere/x.png"]
    result = standalone("predict.py", "rdrop_res2net.yaml", workdir, extra, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "inference.json not found: export the model first" in errors[0]


BAD_CONFIGS = [
    (["Optimizer.lr.cycles=3"], "Optimizer.lr.cycles is not a key the standalone engine knows (it knows ["),
    (["Global.use_dali=True"], "Global.use_dali is read by PaddleClas's Engine, which the standalone engine does not"),
    (["Global.epoch=3"], "rdrop_res2net.yaml has no Global.epoch (did you mean `epochs`?)"),
    (["RDorp.passes=2"], "has no RDorp (did you mean `RDrop`?)"),
    (["Loss.Train.1.RDropLoss.wieght=1.0"], "Loss.Train.RDropLoss.wieght is not a key of RDropLoss (did you mean"),
    (["Optimizer.lr=0.1=2"], "-o Optimizer.lr=0.1=2: give one key=value"),
    (["Loss.Train.5.CELoss.weight=1"], "Loss.Train is a list of 2 in"),
    (["Global.keep_checkpoint_max=-1"], "Global.keep_checkpoint_max must be a whole number >= 1, got -1"),
    (["DataLoader.Train.dataset.cls_label_path=missing.txt"], "list file missing.txt not found"),
    (["Arch.class_num=5"], "but Arch.class_num is 5: set -o Arch.class_num=10"),
    (["RDrop.passes=1"], "RDrop.passes must be an integer >= 2"),
    (["RDrop.passes=2.5"], "RDrop.passes must be an integer >= 2"),
    (["Loss.Train.1.RDropLoss.weight=-1"], "RDropLoss.weight is alpha"),
    (["Loss.Train.1.RDropLoss.reduction=avg"], "reduction must be one of"),
    (["RDrop.strategy=twice"], "RDrop.strategy must be one of"),
    (["RDrop.head_dropout=1.5"], "RDrop.head_dropout must be a number in [0, 1)"),
    (["RDrop.head_layer=fc"], "has no sublayer 'fc'; its classifier candidates (Linear layers) are ['out']"),
    (
        [
            "Arch.name=MobileNetV3_small_x0_35",
            "RDrop.head_layer=fc",
            "RDrop.strategy=shared_trunk",
            "RDrop.drop_path=0",
        ],
        "shared_trunk would be wrong for this model",
    ),
    (["Global.train_mode=None"], "Loss.Train has an RDropLoss entry but Global.train_mode is None"),
    (["Global.device=gpu"], "add -o Global.device=cpu"),
    (["DataLoader.Train.dataset.image_root=nowhere/"], "train_list.txt:1: image nowhere/images/"),
]


@pytest.fixture(scope="module")
def bad_config_errors(workdir):
    """The error of each of BAD_CONFIGS, each case writing (if anything) to `workdir/bad<index>`."""
    cases = [overrides(workdir, f"bad{index}") + extra for index, (extra, _) in enumerate(BAD_CONFIGS)]
    return refusals("train", "rdrop_res2net.yaml", cases, cwd=workdir, env=NO_TREE)


@pytest.mark.parametrize("extra, message", BAD_CONFIGS)
def test_a_bad_config_is_one_line_naming_the_key_and_writes_nothing(workdir, bad_config_errors, extra, message):
    index = BAD_CONFIGS.index((extra, message))
    assert_refused(bad_config_errors[index], message, workdir / f"bad{index}")


def test_ema_gradient_accumulation_and_amp(workdir):
    extra = overrides(workdir, "ema") + TINY + ["EMA.decay=0.9", "Global.update_freq=2", "AMP.use_amp=True"]
    log = standalone("train.py", "rdrop_res2net.yaml", workdir, extra).stdout
    assert step_losses(log, "RDropLoss") and "best metric ema" in log
    assert (workdir / "ema" / "latest.pdema").exists()


def list_with_line(workdir, name, number, line):
    """The digits train list with `line` inserted as line `number`, written to `workdir/name`."""
    lines = (workdir / "digits" / "train_list.txt").read_text().splitlines()
    path = workdir / name
    path.write_text("\n".join(lines[: number - 1] + [line] + lines[number - 1 :]) + "\n")
    return path


def test_a_bad_list_line_names_file_and_line(workdir):
    bad_list = list_with_line(workdir, "bad_list.txt", 4, "images/00001.png")
    result = standalone(
        "train.py",
        "rdrop_res2net.yaml",
        workdir,
        overrides(workdir, "bad_line") + [f"DataLoader.Train.dataset.cls_label_path={bad_list}"],
        check=False,
    )
    assert f"{bad_list}:4: expected `relative/path label`" in result.stderr
    assert not (workdir / "bad_line").exists()


def test_an_unreadable_image_names_list_line_and_file_before_anything_is_written(workdir):
    broken = workdir / "digits" / "images" / "broken.png"
    broken.write_bytes(b"not a png")
    bad_list = list_with_line(workdir, "broken_list.txt", 3, "images/broken.png 3")
    result = standalone(
        "train.py",
        "rdrop_res2net.yaml",
        workdir,
        overrides(workdir, "broken") + [f"DataLoader.Train.dataset.cls_label_path={bad_list}"],
        check=False,
    )
    assert f"{bad_list}:3: image {workdir}/digits/images/broken.png cannot be read" in result.stderr
    assert "Traceback" not in result.stderr and not (workdir / "broken").exists()


def seeded(workdir, name, epochs, extra=()):
    return (
        overrides(workdir, name, epochs, every_epoch=True)
        + TINY
        + ["Global.seed=7", "Global.print_batch_step=1", *extra]
    )


def test_resume_reproduces_the_uninterrupted_run_and_a_seed_reproduces_itself(workdir):
    import numpy as np
    import paddle

    whole = standalone("train.py", "rdrop_res2net.yaml", workdir, seeded(workdir, "whole", 2)).stdout
    again = standalone("train.py", "rdrop_res2net.yaml", workdir, seeded(workdir, "again", 2)).stdout
    # stopped after epoch 1: what is on disk then is epoch_1; resume from it in a new folder
    resumed = standalone(
        "train.py",
        "rdrop_res2net.yaml",
        workdir,
        seeded(workdir, "resumed", 2, [f"Global.checkpoints={workdir}/whole/epoch_1"]),
    ).stdout
    epoch_2 = "[Train][Epoch 2/2]" + whole.split("[Train][Epoch 2/2]", 1)[1]
    for term in ("CELoss", "RDropLoss"):
        assert step_losses(again, term) == step_losses(whole, term)  # same seed, same losses
        assert step_losses(resumed, term) == step_losses(epoch_2, term)
    assert "[Train][Epoch 1/2]" not in resumed and len(step_losses(resumed, "RDropLoss")) > 1
    a = paddle.load(str(workdir / "whole" / "latest.pdparams"))
    b = paddle.load(str(workdir / "resumed" / "latest.pdparams"))
    for key in a:
        np.testing.assert_array_equal(b[key].numpy(), a[key].numpy(), err_msg=key)


def test_a_nan_loss_stops_at_once_and_keeps_the_checkpoints(workdir):
    import hashlib

    standalone("train.py", "rdrop_res2net.yaml", workdir, overrides(workdir, "nan") + TINY)
    latest = workdir / "nan" / "latest.pdparams"
    before = hashlib.sha256(latest.read_bytes()).hexdigest()
    result = standalone(  # on from those weights, into a folder of its own (the first run's is refused)
        "train.py",
        "rdrop_res2net.yaml",
        workdir,
        overrides(workdir, "nan_2")
        + TINY
        + ["Optimizer.lr.learning_rate=1e30", f"Global.pretrained_model={latest}"[:-9]],
        check=False,
    )
    assert result.returncode != 0
    assert "error: training stopped: " in result.stderr and " at epoch 1, step " in result.stderr
    assert "Traceback" not in result.stderr
    assert hashlib.sha256(latest.read_bytes()).hexdigest() == before
    assert not (workdir / "nan_2" / "latest.pdparams").exists()


@pytest.mark.parametrize("workers", [0, 2])
def test_an_image_that_fails_to_decode_in_training_stops_it_with_one_line(workdir, workers):
    """The header reads (the start-up check passes) but the data does not: the error is raised in the
    DataLoader's reader thread (no worker) or a worker process, and must still reach the user."""
    import shutil

    root = workdir / f"cut_{workers}"
    shutil.copytree(workdir / "digits", root)
    first = open(root / "train_list.txt").readline().split()[0]
    data = (root / first).read_bytes()
    (root / first).write_bytes(data[:60])  # cut after the PNG header
    extra = (
        overrides(workdir, f"cut_run_{workers}")
        + TINY
        + [
            f"DataLoader.Train.dataset.image_root={root}",
            f"DataLoader.Train.dataset.cls_label_path={root}/train_list.txt",
            f"DataLoader.Train.loader.num_workers={workers}",
        ]
    )
    result = standalone("train.py", "rdrop_se_resnet.yaml", workdir, extra, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"train_list.txt:1: image {root}/{first} cannot be read" in errors[0], result.stderr[
        -3000:
    ]
    assert "Traceback" not in result.stderr


def test_a_transform_that_fails_on_images_that_decode_is_named_by_its_key(workdir):
    extra = overrides(workdir, "bad_size") + TINY + ["DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=abc"]
    result = standalone("train.py", "rdrop_se_resnet.yaml", workdir, extra, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-3000:]
    assert errors[0].startswith("error: DataLoader.Train.dataset.transform_ops.1.RandCropImage failed on image "), (
        errors
    )
    assert "which decodes: cv2.error: OpenCV" in errors[0] and "failed: Can't parse 'dsize'" in errors[0], errors
    assert errors[0].endswith("fix its settings in the config, or the image if the others pass")
    assert "Traceback" not in result.stderr


def test_predict_and_infer_predict_the_good_images_and_name_the_bad_one(tiny_trained, workdir):
    extra = tiny_trained
    folder = workdir / "some_broken"
    folder.mkdir()
    (folder / "a_good.png").write_bytes((workdir / "digits" / "images" / "00000.png").read_bytes())
    (folder / "c_good.png").write_bytes((workdir / "digits" / "images" / "00001.png").read_bytes())
    # the last one: PaddleClas's Engine.infer would leave out the good images batched before it
    (folder / "z_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # opens as a name, decodes to nothing
    if not (workdir / "tiny" / "inference" / "inference.json").exists():
        standalone("export_model.py", "rdrop_res2net.yaml", workdir, extra)
    runs = [("predict.py", NO_TREE), ("infer.py", NO_TREE)]
    if ENGINES["paddleclas"]["PADDLECLAS_ROOT"]:  # PaddleClas's Engine.infer on the same checkpoint
        runs.append(("infer.py", ENGINES["paddleclas"]))
    for tool, env in runs:
        keys = extra + [f"Infer.infer_imgs={folder}"]
        result = run_tool(tool, "rdrop_res2net.yaml", keys, cwd=workdir, env=env, check=False)
        out = result.stdout + result.stderr
        assert result.returncode == 1 and "Traceback" not in out, out[-3000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert errors[-1].startswith("error: 1 of 3 images could not be ") and "z_broken.png" in errors[-1]
        assert "the others were predicted" in errors[-1]
        assert "a_good.png" in result.stdout and "c_good.png" in result.stdout, out[-3000:]


def test_mixup_leaves_metric_train_out_with_paddleclas_warning(workdir):
    extra = overrides(workdir, "mixup_metric") + TINY + ["Metric.Train=[{'TopkAcc':{'topk':[1]}}]"]
    log = standalone("train.py", "rdrop_res2net.yaml", workdir, extra)
    text = log.stdout + log.stderr
    assert 'Unable to calculate accuracy when using "batch_transform_ops". The metric "{\'TopkAcc\'' in text
    assert "top1" not in text.split("[Train]", 1)[1].split("[Eval]", 1)[0]  # no train metric in the step lines
