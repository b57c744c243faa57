"""Deep mutual learning (configs/mutual_res2net_se_resnet.yaml) through the tools: scoped optimizers, one
epoch on both engines, and bad configs."""

import os
import sys

import pytest

from paddleclas_rdrop import ConfigError

import forks
from engine_runs import (
    ENGINES,
    PROJECT,
    assert_export_matches_eager,
    assert_refused,
    engine_param,
    overrides,
    refusals_by_engine,
    run_tool,
    step_losses,
    tool_environment,
)

CONFIG = "mutual_res2net_se_resnet.yaml"


def test_scoped_optimizers_train_their_own_network_only(mutual):
    from paddleclas_rdrop.tools.standalone.optim import build_optimizer

    adam = {"lr": {"name": "Constant", "learning_rate": 3e-4}}
    section = [{"Adam": {"scope": "Res2Net", **adam}}, {"Adam": {"scope": "SENet", **adam}}]
    optimizers, schedules = build_optimizer(section, 1, 3, mutual)
    assert len(optimizers) == 2 and len(schedules) == 2
    res2net = {p.name for p in mutual.Res2Net.parameters()}
    assert {p.name for p in optimizers[0]._parameter_list} == res2net
    assert not res2net & {p.name for p in optimizers[1]._parameter_list}
    with pytest.raises(ConfigError, match="Optimizer.0.Adam.scope: the model has no sublayer 'Student'"):
        build_optimizer([{"Adam": {"scope": "Student", **adam}}], 1, 3, mutual)


# two networks of different widths: extracting or exporting the wrong one fails on its shapes
TINY_NETWORKS = ["Arch.models.0.Res2Net.name=MobileNetV1_x0_25", "Arch.models.1.SENet.name=MobileNetV1_x0_5"]


def mutual_overrides(workdir, name):
    """The digits run of the mutual config: the article's Adam, not the R-Drop recipes' lr override; both
    networks small MobileNetV1s (as TINY), under the config's names."""
    keys = [o for o in overrides(workdir, name) if not o.startswith("Optimizer.")]
    return keys + TINY_NETWORKS + ["Global.print_batch_step=1"]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_one_epoch_logs_both_networks_and_exports_the_named_one(workdir, engine):
    extra = mutual_overrides(workdir, engine)
    log = run_tool("train.py", CONFIG, extra, cwd=workdir, env=ENGINES[engine]).stdout
    for network in ("Res2Net", "SENet"):
        assert step_losses(log, f"CELoss_{network}") and step_losses(log, f"top1_{network}")
    assert all(kl > 0 for kl in step_losses(log, "MutualKLLoss"))
    step_lines = [line for line in log.splitlines() if "[Train][Epoch 1/1][Iter:" in line]
    assert step_lines and all(line.count("lr(") == 2 for line in step_lines)  # one Adam per network
    assert "[Eval][Epoch 1][Avg]" in log
    stock = workdir / engine / "senet.pdparams"
    extract = [sys.executable, f"{PROJECT}/tools/extract_network.py", str(workdir / engine / "latest"), "SENet"]
    first = forks.run(extract + [str(stock)], cwd=workdir, env=tool_environment(), timeout=600)
    assert first.returncode == 0 and "SENet: " in first.stdout, first.stderr
    again = forks.run(extract + [str(stock)], cwd=workdir, env=tool_environment(), timeout=600)
    assert again.returncode != 0 and "exists; pass --force" in again.stderr  # nothing overwritten
    extra += [f"Global.pretrained_model={workdir / engine / 'latest'}"]
    run_tool("export_model.py", CONFIG, extra, cwd=workdir, env=ENGINES[engine])
    paths = [str(workdir / "digits" / "images" / f"{i:05d}.png") for i in range(4)]
    assert_export_matches_eager(
        f"{PROJECT}/configs/{CONFIG}",
        extra,
        str(workdir / engine / "inference"),
        str(stock),
        "MobileNetV1_x0_5",
        paths,
    )


BAD_MUTUAL_CONFIGS = [
    (
        ["Loss.Train.0.DistillationGTCELoss.model_names=['Res2Net','Student']"],
        "Loss.Train.DistillationGTCELoss names the network 'Student', which is not in Arch.models",
    ),
    (["Loss.Train.0.DistillationGTCELoss.model_names=[Res2Net,SENet]"], "model_names must be a list"),
    (["Loss.Train.1.MutualKLLoss.weight=-1"], "MutualKLLoss.weight is alpha"),
    (["Global.train_mode=rdrop"], "Arch.name: MutualModel already compares its networks"),
    (["Arch.infer_model_name=Student"], "Arch.infer_model_name must name the network"),
    (["Metric.Eval.0.MutualTopkAcc.topk=[1]"], "MutualTopkAcc is in Loss.Eval or Metric.Eval"),
    (["Arch.models.1.SENet.name=SEResNet"], "Arch.models.SENet.name: PaddleClas has no network 'SEResNet'"),
]


@pytest.fixture(scope="module")
def bad_mutual_errors(workdir):
    """Per engine, the error of each of BAD_MUTUAL_CONFIGS (case i writes, if anything, to `bad_<engine><i>`)."""
    return refusals_by_engine(
        CONFIG,
        lambda engine: [
            mutual_overrides(workdir, f"bad_{engine}{index}") + extra
            for index, (extra, _) in enumerate(BAD_MUTUAL_CONFIGS)
        ],
        workdir,
    )


@pytest.mark.parametrize("extra, message", BAD_MUTUAL_CONFIGS)
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_bad_mutual_config_is_one_line_and_writes_nothing(workdir, extra, message, engine, bad_mutual_errors):
    index = BAD_MUTUAL_CONFIGS.index((extra, message))
    assert_refused(bad_mutual_errors(engine)[index], message, workdir / f"bad_{engine}{index}")


def extract(*args, cwd):
    """tools/extract_network.py with `args`, as a user runs it."""
    command = [sys.executable, f"{PROJECT}/tools/extract_network.py", *map(str, args)]
    return forks.run(command, cwd=cwd, env=tool_environment(), timeout=600)


def test_extract_network_refuses_a_one_network_checkpoint_and_never_writes_over_its_source(mutual, tmp_path):
    import paddle

    from models import build

    plain, two = tmp_path / "plain.pdparams", tmp_path / "mutual.pdparams"
    paddle.save(build("MobileNetV1_x0_25").state_dict(), str(plain))
    paddle.save(mutual.state_dict(), str(two))
    before = {path: path.read_bytes() for path in (plain, two)}
    refused = extract(tmp_path / "plain", "blocks", tmp_path / "blocks", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr == (
        f"error: {plain}: it is a one-network checkpoint, not a MutualModel's: its keys begin with the layers of one "
        "network (blocks, conv, fc), where a MutualModel checkpoint's begin with its networks' names (Arch.models' "
        "keys, e.g. blocks); there is no network to extract: a one-network config loads it as it is "
        "(Global.pretrained_model)\n"
    ), refused.stderr[-2000:]
    os.link(two, tmp_path / "linked.pdparams")
    for out in (tmp_path / "mutual", tmp_path / "sub" / ".." / "mutual.pdparams", tmp_path / "linked"):
        same = extract(tmp_path / "mutual", "SENet", out, "--force", cwd=tmp_path)
        assert same.returncode == 1 and same.stderr == (
            f"error: {out}{'' if str(out).endswith('.pdparams') else '.pdparams'} is the checkpoint it would be "
            "extracted from: give another path to write\n"
        ), same.stderr[-2000:]
    assert {path: path.read_bytes() for path in (plain, two)} == before
    made = extract(tmp_path / "mutual", "SENet", tmp_path / "new" / "senet", cwd=tmp_path)
    assert made.returncode == 0 and (tmp_path / "new" / "senet.pdparams").exists(), made.stderr[-2000:]
