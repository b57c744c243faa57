"""The k-pass forward on the real PaddleClas backbones, on digits at 32x32."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from paddleclas.ppcls.arch import backbone

from paddleclas_rdrop.core.errors import ConfigError, PassesIdentical
from paddleclas_rdrop.core.head_dropout import add_head_dropout, classifier_name
from paddleclas_rdrop.core.loss import RDropLoss
from paddleclas_rdrop.core.models import stochastic_layers
from paddleclas_rdrop.core.runner import RDrop

from models import build

BACKBONES = ["Res2Net50_vd_26w_4s", "SE_ResNet50_vd"]


def rdrop_loss(rdrop, images, labels, alpha=0.6):
    out = rdrop(images)
    ce = F.cross_entropy(out, rdrop.repeat_labels(labels))
    kl = RDropLoss(passes=rdrop.passes)(out, None)["RDropLoss"]
    return ce + alpha * kl, kl


@pytest.mark.parametrize("name", BACKBONES)
def test_state_dict_stays_stock_and_eval_is_one_stock_pass(name, digits):
    images, _ = digits
    model, stock = build(name, seed=0), build(name, seed=1)
    rdrop = RDrop(model, head_dropout=0.3)
    assert list(model.state_dict()) == list(stock.state_dict())
    missing, unexpected = stock.set_state_dict(model.state_dict())
    assert not missing and not unexpected
    model.eval(), stock.eval()
    out = rdrop(images)
    assert out.shape == [24, 10]
    np.testing.assert_array_equal(out.numpy(), stock(images).numpy())


@pytest.mark.parametrize("name", BACKBONES)
def test_strategies_give_the_same_loss_and_gradients(name, digits):
    # float64, so that equal maths shows as equal numbers: in float32 the batch of 16 that
    # concat convolves sums in another order than two batches of 8 (1e-2 apart on Res2Net)
    images, labels = digits[0][:8].astype("float64"), digits[1][:8]
    model = build(name)
    model.to(dtype="float64")
    model.train()
    results = {}
    for strategy in ("concat", "shared_trunk", "separate", "auto"):
        rdrop = RDrop(model, strategy=strategy, head_dropout=0.3)
        paddle.seed(123)  # the same dropout masks for every strategy
        loss, kl = rdrop_loss(rdrop, images, labels)
        loss.backward()
        grads = {p.name: p.grad.numpy().copy() for p in model.parameters() if p.grad is not None}
        model.clear_gradients()
        rdrop.remove()
        results[rdrop.strategy if strategy != "auto" else "auto"] = (float(loss), float(kl), grads)
    assert results["concat"][1] > 0
    reference_loss, _, reference_grads = results["concat"]
    assert len(reference_grads) == len([p for p in model.parameters() if not p.stop_gradient])
    for strategy in ("shared_trunk", "separate", "auto"):
        loss, _, grads = results[strategy]
        np.testing.assert_allclose(loss, reference_loss, rtol=1e-10)
        for key, grad in reference_grads.items():
            error = np.linalg.norm(grads[key] - grad) / np.linalg.norm(grad)
            assert error < 1e-9, f"{strategy}: gradient of {key} off by {error:.2e} (relative norm)"


def test_auto_shares_the_trunk_when_exact_and_concats_otherwise():
    assert RDrop(build("Res2Net50_vd_26w_4s"), head_dropout=0.2).strategy == "shared_trunk"
    assert RDrop(build("Res2Net50_vd_26w_4s")).strategy == "concat"
    own_dropout = build("MobileNetV3_small_x0_35")
    assert stochastic_layers(own_dropout) == ["dropout"]
    assert RDrop(own_dropout, head_dropout=0.2, head_layer="fc").strategy == "concat"
    with pytest.raises(ConfigError, match="shared_trunk would be wrong.*'dropout'"):
        RDrop(own_dropout, strategy="shared_trunk", head_layer="fc")


def test_model_dropout_alone_gives_a_positive_kl(digits):
    model = build("MobileNetV3_small_x0_35")
    model.train()
    _, kl = rdrop_loss(RDrop(model), *digits)
    assert float(kl) > 0


def test_running_statistics_move_once_except_with_separate(digits):
    images = digits[0][:8]
    stock = build("SE_ResNet50_vd")
    initial = {key: value.numpy().copy() for key, value in stock.state_dict().items()}
    stock.train()
    stock(images)
    bn_keys = [k for k in initial if k.endswith("_mean") or k.endswith("_variance")]
    one_pass = {k: stock.state_dict()[k].numpy().copy() for k in bn_keys}
    moved = {}
    for strategy in ("concat", "shared_trunk", "separate"):
        stock.set_state_dict(initial)
        rdrop = RDrop(stock, strategy=strategy, head_dropout=0.2)
        rdrop(images)
        rdrop.remove()
        moved[strategy] = {k: stock.state_dict()[k].numpy() for k in bn_keys}
    for strategy in ("concat", "shared_trunk"):
        for key in bn_keys:
            np.testing.assert_allclose(moved[strategy][key], one_pass[key], rtol=1e-5, atol=1e-5)
    assert any(not np.allclose(moved["separate"][k], one_pass[k]) for k in bn_keys)


def test_identical_passes_stop_training_with_an_error_naming_head_dropout(digits):
    model = build("Res2Net50_vd_26w_4s")
    model.train()
    with pytest.raises(ConfigError, match="identical outputs.*RDrop.head_dropout"):
        RDrop(model)(digits[0][:4])


def test_a_missing_head_layer_lists_the_candidates():
    with pytest.raises(ConfigError, match=r"no sublayer 'fc'.*\['out'\]"):
        RDrop(build("SE_ResNet50_vd"), head_dropout=0.2, head_layer="fc")


@pytest.mark.parametrize(
    "kwargs, key",
    [({"passes": 1}, "passes"), ({"strategy": "twice"}, "strategy"), ({"head_dropout": 1.0}, "head_dropout")],
)
def test_bad_settings_name_their_key(kwargs, key):
    with pytest.raises(ConfigError, match=f"RDrop.{key}"):
        RDrop(build("SE_ResNet50_vd"), **kwargs)


def test_three_passes_stack_pass_major(digits):
    model = build("Res2Net50_vd_26w_4s")
    model.train()
    rdrop = RDrop(model, passes=3, head_dropout=0.3)
    out = rdrop(digits[0][:4])
    parts = rdrop.split_passes(out)
    assert out.shape == [12, 10] and len(parts) == 3
    assert rdrop.repeat_labels(digits[1][:4]).shape == [12, 1]
    assert not np.allclose(parts[0].numpy(), parts[2].numpy())


def test_per_pass_views_go_pass_major_and_refuse_what_cannot_hold_them(digits):
    images, _ = digits
    flipped = images.flip(axis=3)
    model = build("SE_ResNet18_vd")
    seen = []
    model.conv1_1.register_forward_pre_hook(lambda layer, inputs: seen.append(inputs[0].numpy()))
    rdrop = RDrop(model, head_dropout=0.1, augment_per_pass=True)
    assert rdrop.strategy == "concat"  # auto: the inputs differ, so no shared trunk
    model.train()
    out = rdrop(paddle.concat([images, flipped], axis=1))  # each sample's two views along the channels
    assert out.shape == [2 * images.shape[0], 10]
    np.testing.assert_array_equal(seen[0][: images.shape[0]], images.numpy())
    np.testing.assert_array_equal(seen[0][images.shape[0] :], flipped.numpy())
    with pytest.raises(ConfigError, match=r"along the channel axis, \[B, 2 \* C, H, W\]; got .*\[24, 3, 32, 32\]"):
        RDrop(build("SE_ResNet18_vd"), head_dropout=0.1, augment_per_pass=True)(images[:, :3])
    with pytest.raises(ConfigError, match="shared_trunk runs the trunk once on one input"):
        RDrop(build("SE_ResNet18_vd"), head_dropout=0.1, strategy="shared_trunk", augment_per_pass=True)


@pytest.mark.parametrize(
    "arch, head",
    [
        ("Res2Net50_vd_26w_4s", "out"),
        ("SE_ResNet18_vd", "out"),
        ("ResNet18", "fc"),
        ("PPLCNet_x0_25", "fc"),
        ("MobileNetV3_small_x0_35", "fc"),
        ("PPHGNet_tiny", "fc"),
        ("ViT_small_patch16_224", "head"),
    ],
)
def test_the_classifier_is_found_when_head_layer_is_not_given(arch, head):
    net = build(arch, class_num=7)
    assert classifier_name(net) == head
    assert dict(net.named_sublayers())[head].weight.shape[-1] == 7  # the layer that gives the 7 logits
    handle = add_head_dropout(net, 0.1)  # no head_layer: that layer
    handle.remove()


def test_a_list_output_trains_on_its_first_logits(digits):
    net = build("GoogLeNet")  # [main, aux_1, aux_2] in training, each [B, classes]
    rdrop = RDrop(net, strategy="separate")
    net.train()
    output = rdrop(paddle.to_tensor(np.resize(digits[0][:2].numpy(), [2, 3, 224, 224])))
    assert isinstance(output, list) and [part.shape for part in output] == [[4, 10]] * 3
    assert [part[0].shape for part in rdrop.split_passes(output)] == [[2, 10], [2, 10]]
    kl = RDropLoss(passes=2)(output)["RDropLoss"]
    np.testing.assert_allclose(float(kl), float(RDropLoss(passes=2)(output[0])["RDropLoss"]))
    assert float(kl) > 0  # GoogLeNet's own dropout


def test_auto_falls_back_to_concat_where_a_path_goes_around_the_shared_trunk():
    net = build("DeiT_tiny_distilled_patch16_224")  # (head(x) + head_dist(x_dist)) / 2: two heads
    images = paddle.randn([2, 3, 224, 224])
    net.train()
    with pytest.warns(UserWarning, match="shared_trunk does not fit DistilledVisionTransformer.*'head_dist'"):
        rdrop = RDrop(net, head_dropout=0.2)
        assert rdrop.strategy == "shared_trunk"
        assert rdrop(images).shape == [4, 10]
    assert rdrop.strategy == "concat"
    rdrop.remove()
    with pytest.raises(ConfigError, match="shared_trunk does not fit .* use strategy: concat"):
        RDrop(net, head_dropout=0.2, strategy="shared_trunk")(images)


def test_layer_scale_does_not_hide_a_models_own_drop_path(digits):
    # ConvNeXt scales each branch by 1e-6 at initialisation: its passes differ by about that much
    paddle.seed(0)
    with paddle.utils.unique_name.guard():
        net = backbone.ConvNeXt_tiny(class_num=10, drop_path_rate=0.1)
    rdrop = RDrop(net)
    net.train()
    output = rdrop(digits[0][:2])  # no identical-passes error
    first, second = output.split(2)
    assert not bool((first == second).all())


def test_a_zero_initialised_classifier_does_not_hide_the_trunks_randomness(digits):
    paddle.seed(0)
    with paddle.utils.unique_name.guard():
        net = backbone.ConvNeXt_tiny(class_num=10, drop_path_rate=0.1)
    net.head.weight.set_value(paddle.zeros_like(net.head.weight))  # a new classifier, as fine-tuning starts
    rdrop = RDrop(net)
    net.train()
    first, second = rdrop(digits[0][:4]).split(2)
    np.testing.assert_array_equal(first.numpy(), second.numpy())  # equal logits, and no error: the features differ


def test_head_dropout_on_a_models_auxiliary_head_is_refused_with_the_right_head_named():
    net = build("GoogLeNet")  # its last Linear, _out2, is an auxiliary head; the logits come from _fc_out
    images = paddle.randn([2, 3, 224, 224])
    net.train()
    with pytest.raises(
        ConfigError,
        match=r"comes from its Linear layer '_fc_out', not from '_out2'.*"
        r"set RDrop.head_layer: _fc_out",
    ):
        RDrop(net, head_dropout=0.2, strategy="concat")(images)
    rdrop = RDrop(net, head_dropout=0.2, head_layer="_fc_out", strategy="concat")
    first, second = rdrop(images)[0].split(2)
    assert not np.allclose(first.numpy(), second.numpy())


def test_a_batch_of_one_does_not_settle_the_shared_trunk_check():
    net = build("DeiT_tiny_distilled_patch16_224")  # (head(x) + head_dist(x_dist)) / 2: two heads
    net.train()
    rdrop = RDrop(net, head_dropout=0.2, head_layer="head_dist")
    rdrop(paddle.randn([1, 3, 224, 224]))  # [1, C] + [2, C] broadcasts to the expected 2 rows
    with pytest.warns(UserWarning, match="shared_trunk does not fit"):
        assert rdrop(paddle.randn([2, 3, 224, 224])).shape == [4, 10]
    assert rdrop.strategy == "concat"


def test_the_core_raises_identical_passes_as_a_fact_carrying_the_passes_head_and_own_layers(digits):
    model = build("Res2Net50_vd_26w_4s")
    model.train()
    with pytest.raises(PassesIdentical) as fact:
        RDrop(model, passes=3)(digits[0][:4])
    assert (fact.value.net, fact.value.passes, fact.value.head, fact.value.active) == (model, 3, "out", [])
