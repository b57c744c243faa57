"""A PULC-like distillation run on both engines: a DistillationModel of two small networks trained on the digits
with PULC's DistillationTopkAcc, evaluated on its student with TprAtFpr first, whose TPR is the value the best
model is kept on, on the standalone engine as on PaddleClas's."""

import re

import pytest
import yaml

from engine_runs import ENGINES, NEEDS_TREE, PROJECT, engine_param, overrides, run_tool, step_losses

SMALL = {"name": "MobileNetV1_x0_25", "class_num": 10}  # each network's own dict: PaddleClas pops its name
NETWORKS = {"name": "DistillationModel", "freeze_params_list": [False, False], "infer_model_name": "Student",
            "models": [{name: dict(SMALL)} for name in ("Teacher", "Student")]}  # fmt: skip
LOSSES = [{"DistillationGTCELoss": {"weight": 1.0, "model_names": ["Student", "Teacher"]}},
          {"DistillationDMLLoss": {"weight": 1.0, "model_name_pairs": [["Student", "Teacher"]]}}]  # fmt: skip
METRICS = {"Train": [{"DistillationTopkAcc": {"model_key": "Student", "topk": [1, 2]}}],
           "Eval": [{"TprAtFpr": {"max_fpr": 0.5}}, {"TopkAcc": {"topk": [1, 2]}}]}  # fmt: skip


def pulc_like_config(folder):
    """configs/baseline_res2net.yaml with PULC's distillation Arch, losses and metrics (10 digit classes:
    TprAtFpr reads class 1's score, the zeros are its negatives), no RDrop section and no Mixup (which takes
    Metric.Train out), written in `folder`."""
    with open(f"{PROJECT}/configs/baseline_res2net.yaml") as file:
        config = yaml.safe_load(file)
    del config["RDrop"], config["DataLoader"]["Train"]["dataset"]["batch_transform_ops"]
    config["Arch"] = NETWORKS
    config["Loss"]["Train"] = LOSSES
    config["Metric"] = METRICS
    path = folder / "pulc_like.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def log_of(workdir):
    """The log of one seeded epoch of the PULC-like config on an engine (each run once per module)."""
    logs = {}

    def run(engine):
        if engine not in logs:
            extra = [o for o in overrides(workdir, engine) if not o.startswith("Arch.")]
            extra += ["Global.print_batch_step=1", "Global.seed=0"]
            config = pulc_like_config(workdir)
            # two threads whatever the test runner's share: the seeded run's scores, and so whether TprAtFpr finds a
            # threshold, depend on the threads' reduction order
            env = {**ENGINES[engine], "OMP_NUM_THREADS": "2"}
            logs[engine] = run_tool("train.py", config, extra, cwd=workdir, env=env).stdout
        return logs[engine]

    return run


def evaluation(log):
    """({name: value} of the log's [Eval][Avg] line, its best metric)."""
    line = re.search(r"\[Eval\]\[Epoch 1\]\[Avg\](.*)", log).group(1)
    values = {key: float(value) for key, value in (part.split(": ") for part in line.split(", ") if part)}
    return values, float(re.search(r"\[Eval\]\[Epoch 1\]\[best metric: ([\d.eE+-]+)\]", log).group(1))


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_distillation_run_logs_pulc_metrics_and_keeps_the_best_model_on_tpr(workdir, log_of, engine):
    log = log_of(engine)
    assert step_losses(log, "top1") and step_losses(log, "top2")  # DistillationTopkAcc on the student
    values, best = evaluation(log)
    assert {"CELoss", "top1", "top2"} <= set(values)  # the eval loss and TopkAcc on the student's logits
    if "threshold" in values:
        assert 0 <= values["threshold"] < 1 and values["fpr"] <= 0.5
    else:  # no threshold has a TPR above 0 at FPR <= 0.5: PaddleClas logs an empty text, TPR 0
        assert "tpr" not in values
    assert abs(best - values.get("tpr", 0.0)) < 5e-6  # kept on TprAtFpr's TPR
    assert (workdir / engine / "best_model.pdparams").exists()


@pytest.mark.skipif(not ENGINES["paddleclas"]["PADDLECLAS_ROOT"], reason=NEEDS_TREE)
def test_both_engines_log_the_same_evaluation_and_best_metric(log_of):
    ours, theirs = evaluation(log_of("standalone")), evaluation(log_of("paddleclas"))
    assert ours[0] == pytest.approx(theirs[0], abs=2e-5) and ours[1] == pytest.approx(theirs[1], abs=1e-6)
    assert "threshold" in ours[0]  # the seeded run finds a threshold: TprAtFpr's text is compared too
