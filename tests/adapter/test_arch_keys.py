"""`unnamed_arch_keys`: an `Arch` key that PaddleClas's backbone takes only through `**kwargs` (and so
ignores) is found, with the named argument it is closest to; the project's recipes have none."""

import glob
import os

import pytest
import yaml

from paddleclas_rdrop.adapter.models import ARCH_KEYS_NOT_PASSED, build_backbone, unnamed_arch_keys

from engine_runs import PROJECT


def built(arch):
    return build_backbone(arch["name"], **{k: v for k, v in arch.items() if k not in ARCH_KEYS_NOT_PASSED})


def test_a_typo_swallowed_by_kwargs_is_found_with_the_argument_it_is_close_to():
    arch = {"name": "Res2Net50_vd_26w_4s", "class_num": 10, "class_nuum": 3, "pretrained": False}
    assert unnamed_arch_keys(arch, built(arch)) == [("class_nuum", " (did you mean `class_num`?)")]


def test_a_factory_that_passes_kwargs_to_a_class_elsewhere_is_followed_to_it():
    # the function DeiT_tiny_patch16_224 passes its **kwargs on to VisionTransformer
    arch = {"name": "DeiT_tiny_patch16_224", "class_num": 5, "img_size": 32, "drop_rate": 0.1, "dropuot": 0.1}
    assert unnamed_arch_keys(arch, built(arch)) == [("dropuot", " (did you mean `drop_rate`?)")]


def test_a_key_the_backbone_reads_out_of_its_kwargs_by_name_is_taken():
    # SwinTransformer reads kwargs.get("use_fused_attn"); PaddleClas's Swin YAMLs set it
    arch = {"name": "SwinTransformer_tiny_patch4_window7_224", "class_num": 10, "use_fused_attn": False}
    assert unnamed_arch_keys(arch, built(arch)) == []


def test_the_keys_the_export_reads_are_not_taken_for_ignored_ones():
    # PULC's vehicle_attribute configs set infer_add_softmax: False; PaddleClas's ExportModel reads it
    arch = {"name": "PPLCNet_x0_25", "class_num": 5, "infer_add_softmax": False, "infer_output_key": "logits"}
    assert unnamed_arch_keys(arch, built(arch)) == []


def test_an_unnamed_key_close_to_nothing_is_found_without_a_hint():
    arch = {"name": "Res2Net50_vd_26w_4s", "class_num": 10, "zzz": 1}
    assert unnamed_arch_keys(arch, built(arch)) == [("zzz", "")]


def test_a_name_that_is_not_a_backbone_has_nothing_to_check():
    arch = {"name": "SE_ResNet50_vd", "class_num": 10}
    assert unnamed_arch_keys({"name": "MutualModel", "zzz": 1}, built(arch)) == []


def recipe_archs():
    """{the config files: their Arch section}, one entry per distinct section (a recipe and its baseline twin
    share theirs), for the configs of one backbone (not MutualModel's two)."""
    archs = {}
    for path in sorted(glob.glob(os.path.join(PROJECT, "configs", "*.yaml"))):
        with open(path) as handle:
            arch = yaml.safe_load(handle)["Arch"]
        if arch["name"] != "MutualModel":
            archs.setdefault(yaml.safe_dump(arch), ([], arch))[0].append(os.path.basename(path))
    return {"+".join(names): arch for names, arch in archs.values()}


@pytest.mark.parametrize("names, arch", sorted(recipe_archs().items()))
def test_the_recipes_name_only_arguments_their_backbone_takes(names, arch):
    arch = {**arch, "pretrained": False}
    if arch["name"].startswith("ViT"):
        arch["img_size"] = 32  # the same arguments, a smaller model to build
    assert unnamed_arch_keys(arch, built(arch)) == []
