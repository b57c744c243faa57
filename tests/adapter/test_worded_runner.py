"""The runner's errors in the config's keys, on the real PaddleClas backbones: the model's own rates, its input
size, its classifier, a fault of its code."""

import paddle
import pytest
from paddleclas.ppcls.arch import backbone

from paddleclas_rdrop.adapter.models import own_rate_arguments, randomness_fixes
from paddleclas_rdrop.adapter.runner import RDrop
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.core.runner import CHANCE_CALLS

from models import build


@pytest.mark.parametrize(
    "arch, size, keys",
    [
        ("ViT_small_patch16_224", 224, "Arch.drop_path_rate or Arch.drop_rate or Arch.attn_drop_rate"),
        ("ConvNeXt_tiny", 64, "Arch.drop_path_rate"),
        ("PPHGNet_tiny", 64, "Arch.dropout_prob"),
    ],
)
def test_a_model_whose_own_rates_are_0_is_told_which_arch_keys_set_them(arch, size, keys):
    net = build(arch, class_num=5)
    rdrop = RDrop(net, passes=2, strategy="concat")
    net.train()
    with pytest.raises(ConfigError, match=rf"has stochastic layers of its own, built at rate 0 here\. Set {keys} "):
        rdrop(paddle.randn([2, 3, size, size]))


def test_own_rate_arguments_passed_on_through_kwargs_are_found():
    net = build("DeiT_tiny_distilled_patch16_224")  # its __init__ hands **kwargs to VisionTransformer's
    assert own_rate_arguments(net) == ["drop_rate", "attn_drop_rate", "drop_path_rate"]
    assert randomness_fixes(net)[0] == ("Arch.drop_path_rate", 0.1)


def test_a_rate_argument_the_model_never_reads_is_not_offered(digits):
    net = build("CSPDarkNet53")  # CSPNet stores drop_rate and never reads it
    assert own_rate_arguments(net) == [] and randomness_fixes(net) == [("RDrop.head_dropout", 0.2)]
    net.train()
    with pytest.raises(ConfigError, match=r"CSPNet has no active dropout\. Set RDrop.head_dropout \(e.g. 0.2"):
        RDrop(net)(digits[0][:2])


def test_a_models_own_layers_get_a_few_calls_before_equal_passes_stop_training(digits):
    with paddle.utils.unique_name.guard():
        net = backbone.PPLCNet_x0_25(class_num=10, dropout_prob=1e-12)  # active, but never drops in practice
    rdrop = RDrop(net)
    net.train()
    for _ in range(CHANCE_CALLS - 1):  # a small batch can draw no drop at all: not yet an error
        rdrop(digits[0][:2])
    with pytest.raises(ConfigError, match=r"its own stochastic layers \(dropout\) made no difference in 5 steps"):
        rdrop(digits[0][:2])


def test_a_model_that_refuses_its_input_size_is_one_error_naming_the_key():
    net = build("DeiT_tiny_patch16_224")  # built for 224 px
    net.train()
    with pytest.raises(ConfigError, match=r"cannot take a batch of \[2, 3, 32, 32\].*set Arch.img_size=32"):
        RDrop(net, strategy="concat", head_dropout=0.1)(paddle.randn([2, 3, 32, 32]))


def test_the_errors_name_the_models_classifier_and_own_rates_not_a_configured_layer_it_lacks(digits):
    net = build("ConvNeXt_tiny")
    with pytest.raises(ConfigError, match=r"Set RDrop.drop_path: 0 and use Arch.drop_path_rate or RDrop.head_dropout"):
        RDrop(net, drop_path=0.1)
    net.train()
    with pytest.raises(ConfigError, match=r"RDrop.head_layer: head \(its classifier\)"):
        RDrop(net, head_layer="out")(digits[0][:2])  # "out": the SE-ResNet recipe's classifier, not ConvNeXt's


def test_a_model_whose_own_code_fails_at_the_first_step_is_one_error():
    net = build("SwinTransformerV2_tiny_patch4_window8_256")  # NameError inside PaddleClas's forward
    net.train()
    with pytest.raises(ConfigError, match=r"SwinTransformerV2 fails on its first training batch .*NameError"):
        RDrop(net, strategy="concat", head_dropout=0.1)(paddle.randn([2, 3, 256, 256]))
