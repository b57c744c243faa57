"""Deep mutual learning (configs/mutual_res2net_se_resnet.yaml): the article's two networks."""
import subprocess
import sys

import numpy as np
import paddle
import pytest

from engine_runs import (ENGINES, PROJECT, assert_export_matches_eager, assert_refused, digits_workdir,
                         engine_param, overrides, refusals_by_engine, run_tool, step_losses)
from paddleclas_rdrop import ConfigError, MutualKLLoss, MutualModel, MutualTopkAcc, compute_kl_loss
from paddleclas_rdrop.mutual import network_weights

CONFIG = "mutual_res2net_se_resnet.yaml"
NETWORKS = [{"Res2Net": {"name": "Res2Net50_vd_26w_4s"}}, {"SENet": {"name": "SE_ResNet50_vd"}}]


@pytest.fixture(scope="module")
def mutual():
    paddle.seed(0)
    return MutualModel(models=NETWORKS, infer_model_name="SENet", class_num=10)


def test_two_backbones_with_fixed_parameter_names_build_side_by_side(mutual, digits):
    names = [p.name for p in mutual.parameters()]
    assert len(names) == len(set(names))  # conv1_1_weights etc. would clash without the prefixes
    mutual.train()
    out = mutual(digits[0][:4])
    assert sorted(out) == ["Res2Net", "SENet"] and out["SENet"].shape == [4, 10]
    assert not paddle.equal_all(out["Res2Net"], out["SENet"])


def test_eval_mode_is_the_named_network_alone_with_stock_weights(mutual, digits):
    from paddleclas.ppcls.arch import backbone

    with paddle.utils.unique_name.guard():
        stock = backbone.SE_ResNet50_vd(class_num=10)
    stock.set_state_dict(network_weights(mutual.state_dict(), "SENet"))
    mutual.eval(), stock.eval()
    np.testing.assert_allclose(mutual(digits[0][:4]).numpy(), stock(digits[0][:4]).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="no network 'VGG'; it has \\['Res2Net', 'SENet'\\]"):
        network_weights(mutual.state_dict(), "VGG")


def test_one_optimizer_over_both_networks_steps_each_with_its_own_state(mutual, digits):
    mutual.train()
    optimizer = paddle.optimizer.Adam(3e-4, parameters=mutual.parameters())
    out = mutual(digits[0][:4])
    (out["Res2Net"].sum() + out["SENet"].sum()).backward()
    optimizer.step()  # accumulators are keyed by parameter name: shared names would mix or crash
    optimizer.clear_grad()
    trainable = [p for p in mutual.parameters() if not p.stop_gradient]
    moments = {key for key in optimizer.state_dict() if key.endswith("_moment1_0")}
    assert len(moments) == len(trainable)  # one accumulator per trained parameter, none shared
    assert moments == {f"{p.name}_moment1_0" for p in trainable}


@pytest.mark.parametrize("kwargs, message", [
    ({"models": NETWORKS[:1], "infer_model_name": "Res2Net"}, "Arch.models must list two or more"),
    ({"models": NETWORKS, "infer_model_name": "Student"}, "Arch.infer_model_name must name the network"),
    ({"models": [NETWORKS[0], {"SENet": {"name": "SEResNet"}}], "infer_model_name": "SENet"},
     "Arch.models.SENet.name: PaddleClas has no network 'SEResNet'"),
    ({"models": [NETWORKS[0], NETWORKS[0]], "infer_model_name": "Res2Net"}, "two networks are called 'Res2Net'"),
])
def test_a_wrong_arch_names_the_key(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", "\\(").replace("[", "\\[")):
        MutualModel(**kwargs)


def test_the_kl_between_networks_is_compute_kl_loss_and_topk_is_per_network():
    rng = np.random.default_rng(0)
    x = {name: paddle.to_tensor(rng.normal(size=(6, 10)) * 3, "float32") for name in ("A", "B", "C")}
    labels = paddle.to_tensor(rng.integers(0, 10, size=(6, 1)))
    got = MutualKLLoss(model_name_pairs=[["A", "B"]], reduction="sum")(x)["MutualKLLoss"]
    np.testing.assert_allclose(float(got), float(compute_kl_loss(x["A"], x["B"], reduction="sum")), rtol=1e-6)
    every_pair = MutualKLLoss()(x)["MutualKLLoss"]  # default: the mean over all pairs
    want = np.mean([float(compute_kl_loss(x[a], x[b], reduction="batchmean")) for a, b in ("AB", "AC", "BC")])
    np.testing.assert_allclose(float(every_pair), want, rtol=1e-6)
    with pytest.raises(ValueError, match="Arch.name: MutualModel"):
        MutualKLLoss()(x["A"])
    top = MutualTopkAcc(topk=[1])(x, labels)
    assert sorted(top) == ["top1_A", "top1_B", "top1_C"]
    want_a = np.mean(x["A"].numpy().argmax(-1) == labels.numpy()[:, 0])
    np.testing.assert_allclose(float(top["top1_A"]), want_a)


def test_scoped_optimizers_train_their_own_network_only(mutual):
    from paddleclas_rdrop.standalone.optim import build_optimizer

    adam = {"lr": {"name": "Constant", "learning_rate": 3e-4}}
    section = [{"Adam": {"scope": "Res2Net", **adam}}, {"Adam": {"scope": "SENet", **adam}}]
    optimizers, schedules = build_optimizer(section, 1, 3, mutual)
    assert len(optimizers) == 2 and len(schedules) == 2
    res2net = {p.name for p in mutual.Res2Net.parameters()}
    assert {p.name for p in optimizers[0]._parameter_list} == res2net
    assert not res2net & {p.name for p in optimizers[1]._parameter_list}
    with pytest.raises(ConfigError, match="Optimizer.0.Adam.scope: the model has no sublayer 'Student'"):
        build_optimizer([{"Adam": {"scope": "Student", **adam}}], 1, 3, mutual)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return digits_workdir(tmp_path_factory, "mutual")


def mutual_overrides(workdir, name):
    """The digits run of the mutual config: the article's Adam, not the R-Drop recipes' lr override."""
    return [o for o in overrides(workdir, name) if not o.startswith("Optimizer.")] + ["Global.print_batch_step=1"]


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
    assert "SENet: " in subprocess.run(extract + [str(stock)], capture_output=True, text=True, check=True).stdout
    again = subprocess.run(extract + [str(stock)], capture_output=True, text=True)
    assert again.returncode != 0 and "exists; pass --force" in again.stderr  # nothing overwritten
    extra += [f"Global.pretrained_model={workdir / engine / 'latest'}"]
    run_tool("export_model.py", CONFIG, extra, cwd=workdir, env=ENGINES[engine])
    paths = [str(workdir / "digits" / "images" / f"{i:05d}.png") for i in range(4)]
    assert_export_matches_eager(f"{PROJECT}/configs/{CONFIG}", extra, str(workdir / engine / "inference"),
                                str(stock), "SE_ResNet50_vd", paths)


BAD_MUTUAL_CONFIGS = [
    (["Loss.Train.0.DistillationGTCELoss.model_names=['Res2Net','Student']"],
     "Loss.Train.DistillationGTCELoss names the network 'Student', which is not in Arch.models"),
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
    return refusals_by_engine(CONFIG, lambda engine: [
        mutual_overrides(workdir, f"bad_{engine}{index}") + extra
        for index, (extra, _) in enumerate(BAD_MUTUAL_CONFIGS)], workdir)


@pytest.mark.parametrize("extra, message", BAD_MUTUAL_CONFIGS)
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_bad_mutual_config_is_one_line_and_writes_nothing(workdir, extra, message, engine, bad_mutual_errors):
    index = BAD_MUTUAL_CONFIGS.index((extra, message))
    assert_refused(bad_mutual_errors(engine)[index], message, workdir / f"bad_{engine}{index}")
