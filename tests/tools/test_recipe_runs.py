"""The ViT and PP-HGNetV2 recipes through the tools, at 32 px on the digits: the paper's ViT setting (its keys
on DeiT_tiny, ViT-B's sibling at width 192) trains on both engines with the model's own dropout, PP-HGNetV2's
on PaddleClas's Engine with its augmentation."""

import shutil

import pytest

from engine_runs import ENGINES, assert_refused, engine_param, refusals, refusals_by_engine, run_tool, step_losses

SIZE = 32


def recipe_overrides(workdir, name):
    """A one-epoch CPU run at 32 px on `workdir/digits`, no download (`Arch.pretrained=False`), writing to
    `workdir/name` the latest and best checkpoints."""
    from engine_runs import dataset_overrides

    return dataset_overrides(
        str(workdir / "digits"), size=SIZE, batch_size=16, epochs=1, output_dir=str(workdir / name)
    ) + ["Global.save_interval=1000", "Arch.pretrained=False", "AMP.use_amp=False"]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_both_engines_train_the_vit_recipe_with_its_own_dropout(engine, workdir):
    # the recipe's keys on ViT-B's 5.7 M-parameter sibling (PaddleClas's VisionTransformer at width 192):
    # ViT-B's run writes 1.3 GB and takes 60 s; the recipe's ViT-B is built in test_shipped_configs
    extra = recipe_overrides(workdir, f"vit_{engine}") + [
        f"Arch.img_size={SIZE}",  # 2 x 2 patches of 16 px
        "Arch.name=DeiT_tiny_patch16_224",
    ]
    result = run_tool("train.py", "rdrop_vit.yaml", extra, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    kl = step_losses(log, "RDropLoss")
    assert kl and all(value > 0 for value in kl)  # Arch.drop_rate 0.1 makes the passes differ
    assert (workdir / f"vit_{engine}" / "latest.pdparams").exists()
    shutil.rmtree(workdir / f"vit_{engine}")


@pytest.mark.parametrize("engine", [engine_param("paddleclas")])
def test_paddleclas_engine_trains_the_pphgnetv2_recipe_with_its_augmentation(engine, workdir):
    extra = recipe_overrides(workdir, "pphgnetv2") + [
        f"DataLoader.Train.dataset.transform_ops.3.TimmAutoAugment.img_size={SIZE}",
        "DataLoader.Eval.dataset.transform_ops.1.ResizeImage.resize_short=36",  # 232 / 224 of the crop
    ]
    result = run_tool("train.py", "rdrop_pphgnetv2.yaml", extra, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    kl = step_losses(log, "RDropLoss")
    assert kl and all(value > 0 for value in kl)  # head dropout and drop path in stage 3
    assert "[Train][Epoch 1][R-Drop] alpha x KL is " in log


def test_the_standalone_engine_names_the_pphgnetv2_ops_it_does_not_know(workdir):
    errors = refusals_by_engine("rdrop_pphgnetv2.yaml", lambda engine: [recipe_overrides(workdir, "hg_alone")], workdir)
    message = "DataLoader.Train.dataset.transform_ops.3: TimmAutoAugment is not supported by the standalone engine"
    assert_refused(errors("standalone")[0], message, workdir / "hg_alone")


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_weights_that_cannot_be_downloaded_are_one_line_naming_the_way_around(engine, workdir):
    extra = [key for key in recipe_overrides(workdir, f"vit_offline_{engine}") if key != "Arch.pretrained=False"]
    errors = refusals("train", "rdrop_vit.yaml", [extra + [f"Arch.img_size={SIZE}"]], cwd=workdir, env=ENGINES[engine])
    message = (
        "Arch.pretrained: 'ViT_base_patch16_224' downloads its weights from https://paddle-imagenet-models-name.bj."
        "bcebos.com/dygraph/ViT_base_patch16_224_pretrained.pdparams, which failed here: download that file where "
        "there is a network and set -o Global.pretrained_model=<its path without .pdparams> -o Arch.pretrained=False"
    )
    assert_refused(errors[0], message, workdir / f"vit_offline_{engine}")
