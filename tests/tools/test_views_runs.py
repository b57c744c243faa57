"""Each pass its own augmentation, the alpha warm-up and the calibration metric through the tools, on both
engines: R-Drop with k views, its baseline twin (k views, CE only), and a resumed warm-up."""

import re

import pytest
import yaml

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, run_tool, step_losses

PER_PASS = ["RDrop.augment_per_pass=True", "DataLoader.Train.dataset.batch_transform_ops=None"]


def with_calibration(workdir, config):
    """configs/`config` with `Calibration` after TopkAcc in Metric.Eval, written into `workdir`."""
    with open(f"{PROJECT}/configs/{config}") as handle:
        settings = yaml.safe_load(handle)
    settings["Metric"]["Eval"].append({"Calibration": {"bins": 15}})
    path = workdir / f"calibrated_{config}"
    path.write_text(yaml.safe_dump(settings))
    return str(path)


def alphas(log):
    """alpha at the end of each epoch, from the per-epoch R-Drop lines."""
    return [float(a) for a in re.findall(r"\[R-Drop\] alpha ([\d.e+-]+) of 2 \(warm-up over 2 epochs\)", log)]


def scalars(folder):
    """{tag: [(step, value), ...]} of the VisualDL log that a run wrote into `folder`."""
    from visualdl import LogReader

    (path,) = [p for p in folder.iterdir() if p.name.startswith("vdlrecords")]
    reader = LogReader(file_path=str(path))
    return {tag: [(r.id, r.value) for r in reader.get_data("scalar", tag)] for tag in reader.get_tags()["scalar"]}


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_per_pass_views_with_a_warm_up_train_resume_exactly_and_report_calibration(engine, workdir):
    config = with_calibration(workdir, "rdrop_se_resnet.yaml")
    extra = PER_PASS + [
        "RDrop.alpha_warmup_epochs=2",
        "Loss.Train.1.RDropLoss.weight=2.0",
        "Global.seed=7",
        "Global.print_batch_step=1",
    ]
    whole = run_tool(
        "train.py",
        config,
        overrides(workdir, f"whole_{engine}", 2, every_epoch=True) + TINY + extra + ["Global.use_visualdl=True"],
        cwd=workdir,
        env=ENGINES[engine],
    )
    log = whole.stdout + whole.stderr
    kl = step_losses(log, "RDropLoss")  # alpha x KL: alpha is 0 at the first step, then rises
    assert kl[0] == 0 and all(value > 0 for value in kl[1:])
    ramp = alphas(log)
    assert len(ramp) == 2 and 0.5 < ramp[0] < 1.0 and 1.5 < ramp[1] <= 2.0, ramp  # rising to alpha = 2
    assert re.search(r"\[Eval\]\[Epoch 2\]\[Avg\].*ECE: [\d.]+, NLL: [\d.]+", log), log[-2000:]
    written = scalars(workdir / f"whole_{engine}")  # the R-Drop scalars beside PaddleClas's own
    assert "eval_acc" in written and any(tag.startswith("train_") for tag in written)
    assert [step for step, _ in written["rdrop_alpha"]] == [1, 2]
    assert [value for _, value in written["rdrop_alpha"]] == pytest.approx(ramp, rel=1e-3)
    shares = re.findall(r"alpha x KL is ([\d.]+)% of the training loss", log)
    assert [100 * value for _, value in written["rdrop_kl_share"]] == pytest.approx(
        [float(s) for s in shares], abs=0.006
    )
    for key in ("ECE", "NLL"):
        logged = [float(v) for v in re.findall(rf"\[Eval\]\[Epoch \d\]\[Avg\].*{key}: ([\d.]+)", log)]
        assert [value for _, value in written[f"eval_{key}"]] == pytest.approx(logged, abs=6e-6)
    resumed = run_tool(
        "train.py",
        config,
        overrides(workdir, f"resumed_{engine}", 2)
        + TINY
        + extra
        + [f"Global.checkpoints={workdir}/whole_{engine}/epoch_1"],
        cwd=workdir,
        env=ENGINES[engine],
    )
    resumed_log = resumed.stdout + resumed.stderr
    epoch_2 = "[Train][Epoch 2/2]" + log.split("[Train][Epoch 2/2]", 1)[1]
    assert "[Train][Epoch 1/2]" not in resumed_log
    for term in ("CELoss", "RDropLoss"):
        assert step_losses(resumed_log, term) == step_losses(epoch_2, term)
    assert alphas(resumed_log) == ramp[1:]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_baseline_twin_with_per_pass_views_trains_k_copies_with_ce_only(engine, workdir):
    extra = overrides(workdir, f"views_ce_{engine}") + TINY + PER_PASS + ["RDrop.passes=2"]
    result = run_tool("train.py", "baseline_se_resnet.yaml", extra, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    assert step_losses(log, "CELoss") and "RDropLoss" not in log.split("[Train]", 1)[1]
    assert (workdir / f"views_ce_{engine}" / "latest.pdparams").exists()
