"""Drop path (stochastic depth) on the real ResNet-family backbones, the shared deterministic prefix,
and the `RDrop.drop_path` keys."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddleclas_rdrop import ConfigError, RDrop, RDropLoss, add_drop_path
from paddleclas_rdrop.core.drop_path import residual_blocks

from models import build

FAMILIES = {
    "Res2Net50_vd_26w_4s": "out",
    "SE_ResNet50_vd": "out",
    "SE_ResNeXt50_vd_32x4d": "out",
    "SE_ResNet18_vd": "out",
    "ResNet50_vd": "fc",
    "PPHGNet_tiny": "fc",
    "PPHGNetV2_B0": "fc",
    "MobileNetV3_small_x0_35": "fc",
    "MobileNetV3_large_x0_35": "fc",
}  # backbone -> its classifier layer


def stage_outputs(model, stage):
    """A list that collects the output of the last block of `stage` at every forward."""
    seen = []
    last = [block for s, block, _ in residual_blocks(model) if s == stage][-1]
    last.register_forward_post_hook(lambda layer, inputs, output: seen.append(output.numpy().copy()))
    return seen


def test_drop_path_makes_the_passes_differ_inside_the_trunk(digits):
    images = digits[0][:8]
    model = build("SE_ResNet50_vd")
    model.train()
    seen = stage_outputs(model, 3)
    rdrop = RDrop(model, strategy="concat", drop_path=0.2)
    rdrop(images)
    first, second = np.split(seen[-1], 2)
    assert not np.allclose(first, second)
    rdrop.remove()
    head_only = RDrop(model, strategy="concat", head_dropout=0.2)  # the contrast: no randomness in the trunk
    head_only(images)
    first, second = np.split(seen[-1], 2)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "name, stage",
    [("PPHGNet_tiny", 3), ("PPHGNetV2_B0", 3), ("MobileNetV3_small_x0_35", 3), ("MobileNetV3_large_x0_35", 2)],
)
def test_drop_path_on_hgnet_and_mobilenet_v3_makes_the_passes_differ_in_that_stage(name, stage, digits):
    model = build(name)
    model.train()
    seen = stage_outputs(model, stage)
    rdrop = RDrop(model, strategy="concat", drop_path=0.5, drop_path_stages=[stage])
    paddle.seed(3)
    rdrop(digits[0][:8])
    first, second = np.split(seen[-1], 2)
    assert not np.allclose(first, second)
    rdrop.remove()
    RDrop(model, strategy="concat", head_dropout=0.2)(digits[0][:8])  # no randomness in the trunk
    first, second = np.split(seen[-1], 2)
    np.testing.assert_array_equal(first, second)


def test_drop_path_goes_on_the_blocks_with_a_shortcut_only():
    hgnet = build("PPHGNet_tiny")  # one block with a shortcut, the second of stage 3
    assert [block for _, block, _ in residual_blocks(hgnet)] == [hgnet.stages[2].blocks[1]]
    assert residual_blocks(hgnet)[0][2] is hgnet.stages[2].blocks[1].att
    mobilenet = build("MobileNetV3_large_x0_35")
    units = [i for i, unit in enumerate(mobilenet.blocks) if unit.if_shortcut]
    assert [block for _, block, _ in residual_blocks(mobilenet)] == [mobilenet.blocks[i] for i in units]
    # strides 1,2,1,2,1,1,2,1,1,1,1,1,2,1,1 after the /2 stem: unit 0 at 1/2 (in stage 1), 1-2 at 1/4 ... 12-14 at 1/32
    assert [stage for stage, _, _ in residual_blocks(mobilenet)] == [1, 1, 2, 2, 3, 3, 3, 3, 4, 4]


def test_stages_without_a_residual_block_are_named():
    message = r"RDrop.drop_path_stages: PPHGNet has no block .* in stages \[4\]; .* \[3\]"
    with pytest.raises(ConfigError, match=message):
        RDrop(build("PPHGNet_tiny"), drop_path=0.1, drop_path_stages=[4])


@pytest.mark.parametrize("name", FAMILIES)
def test_eval_is_the_stock_model_and_keys_are_stock(name, digits):
    images = digits[0][:4]
    model, stock = build(name, seed=0), build(name, seed=1)
    keys = list(model.state_dict())
    rdrop = RDrop(model, drop_path=0.2, head_dropout=0.2, head_layer=FAMILIES[name])
    assert list(model.state_dict()) == keys == list(stock.state_dict())
    model.train()
    assert rdrop(images).shape == [8, 10]
    stock.set_state_dict(model.state_dict())  # with the running statistics that training step moved
    model.eval(), stock.eval()
    np.testing.assert_array_equal(rdrop(images).numpy(), stock(images).numpy())


def test_linear_rule_over_the_chosen_stages():
    model = build("SE_ResNet50_vd")  # stages of 3, 4, 6 and 3 blocks
    everywhere = add_drop_path(model, 0.3)
    assert len(everywhere.rates) == 16 and everywhere.rates[0] == 0 and everywhere.rates[-1] == pytest.approx(0.3)
    assert np.allclose(np.diff(everywhere.rates), 0.02)
    everywhere.remove()
    last = add_drop_path(model, 0.3, stages=[4])
    assert last.rates == pytest.approx([0.0, 0.15, 0.3])
    assert last.first_block is model.bb_3_1  # the first block that draws a mask


@pytest.mark.parametrize("stages", [[4], [3, 4]])
def test_sharing_the_deterministic_prefix_equals_concat(stages, digits):
    # float64, so that equal maths shows as equal numbers (see test_passes.py)
    images, labels = digits[0][:8].astype("float64"), digits[1][:8]
    model = build("SE_ResNet50_vd")
    model.to(dtype="float64")
    model.train()
    results = {}
    for strategy in ("concat", "shared_trunk"):
        rdrop = RDrop(model, strategy=strategy, drop_path=0.3, drop_path_stages=stages, head_dropout=0.1)
        paddle.seed(7)  # the same masks in both: the prefix draws none
        out = rdrop(images)
        kl = RDropLoss(passes=2)(out, None)["RDropLoss"]
        loss = F.cross_entropy(out, rdrop.repeat_labels(labels)) + 3.0 * kl
        loss.backward()
        results[strategy] = (
            float(loss),
            float(kl),
            {p.name: p.grad.numpy().copy() for p in model.parameters() if p.grad is not None},
        )
        model.clear_gradients()
        rdrop.remove()
    assert results["concat"][1] > 0
    np.testing.assert_allclose(results["shared_trunk"][0], results["concat"][0], rtol=1e-10)
    reference = results["concat"][2]
    assert set(results["shared_trunk"][2]) == set(reference)
    for key, grad in reference.items():
        error = np.linalg.norm(results["shared_trunk"][2][key] - grad) / max(np.linalg.norm(grad), 1e-300)
        assert error < 1e-9, f"gradient of {key} off by {error:.2e}"


def test_auto_shares_from_the_first_block_with_a_mask():
    model = build("SE_ResNet50_vd")
    rdrop = RDrop(model, drop_path=0.1, drop_path_stages=[4])
    assert rdrop.strategy == "shared_trunk" and rdrop.shared_until is model.bb_3_1
    rdrop.remove()
    rdrop = RDrop(model, drop_path=0.1)
    assert rdrop.strategy == "shared_trunk" and rdrop.shared_until is model.bb_0_1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"drop_path": -0.1}, "RDrop.drop_path must be a number in [0, 1)"),
        ({"drop_path": 1.0}, "RDrop.drop_path must be a number in [0, 1)"),
        ({"drop_path": 0.1, "drop_path_stages": [0, 4]}, "RDrop.drop_path_stages must be"),
        ({"drop_path": 0.1, "drop_path_stages": [5]}, "RDrop.drop_path_stages must be"),
    ],
)
def test_bad_values_name_their_key(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(")", r"\)")):
        RDrop(build("SE_ResNet18_vd"), **kwargs)


def test_an_unsupported_model_names_the_key_and_the_families():
    model = build("PPLCNet_x0_25")
    with pytest.raises(ConfigError, match="RDrop.drop_path: PPLCNet is not a backbone.*SE_ResNet_vd.*PP-HGNetV2"):
        RDrop(model, drop_path=0.1)
