"""Deep mutual learning, the article's two networks: MutualModel, its KL and top-k, its checkpoints."""

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import ConfigError, MutualKLLoss, MutualModel, MutualTopkAcc, compute_kl_loss
from paddleclas_rdrop.adapter.mutual import network_weights

from models import build

CONFIG = "mutual_res2net_se_resnet.yaml"
NETWORKS = [{"Res2Net": {"name": "Res2Net50_vd_26w_4s"}}, {"SENet": {"name": "SE_ResNet50_vd"}}]


def test_two_backbones_with_fixed_parameter_names_build_side_by_side(mutual, digits):
    names = [p.name for p in mutual.parameters()]
    assert len(names) == len(set(names))  # conv1_1_weights etc. would clash without the prefixes
    mutual.train()
    out = mutual(digits[0][:4])
    assert sorted(out) == ["Res2Net", "SENet"] and out["SENet"].shape == [4, 10]
    assert not paddle.equal_all(out["Res2Net"], out["SENet"])


def test_eval_mode_is_the_named_network_alone_with_stock_weights(mutual, digits):

    stock = build("SE_ResNet50_vd")
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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"models": NETWORKS[:1], "infer_model_name": "Res2Net"}, "Arch.models must list two or more"),
        ({"models": NETWORKS, "infer_model_name": "Student"}, "Arch.infer_model_name must name the network"),
        (
            {"models": [NETWORKS[0], {"SENet": {"name": "SEResNet"}}], "infer_model_name": "SENet"},
            "Arch.models.SENet.name: PaddleClas has no network 'SEResNet'",
        ),
        ({"models": [NETWORKS[0], NETWORKS[0]], "infer_model_name": "Res2Net"}, "two networks are called 'Res2Net'"),
    ],
)
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


def test_a_one_network_checkpoint_is_told_apart_from_a_mutual_model_s(mutual):
    from paddleclas_rdrop.adapter.mutual import networks_of

    assert networks_of(mutual.state_dict()) == ["Res2Net", "SENet"]
    plain = build("MobileNetV1_x0_25").state_dict()
    assert networks_of(plain) is None  # its `fc.weight`: a layer right under the top
    assert networks_of({"pos_embed": 0, "blocks.0.fc.weight": 0}) is None  # a parameter of the network itself
    with pytest.raises(ConfigError, match=r"one-network checkpoint, not a MutualModel's: .* \(blocks, conv, fc\)"):
        network_weights(plain, "blocks")
