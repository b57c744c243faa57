"""Weights that do not fit the model are refused in one line before anything is written (eval, export,
a resume, a pretrained model of another network); fine-tuning a classifier of another size trains on
with one warning in train.log; predict names an export whose class count the label list does not fit."""

import paddle
import pytest

from engine_runs import ENGINES, assert_refused, engine_param, overrides, refusals, run_tool
from models import build

WRONG = [
    (
        "eval",
        ["Arch.class_num=12"],
        "out.bias is [10] there and [12] in the model (2 tensors: out.bias, "
        "out.weight); set -o Arch.class_num=10 (the checkpoint's classes)",
    ),
    ("export", ["Arch.class_num=1000"], "does not fit the model: out.bias is [10] there and [1000] in the model"),
    (
        "train",
        ["Global.pretrained_model={res2net}"],
        "point Global.pretrained_model at weights of Arch.name SE_ResNet50_vd",
    ),
    (  # loaded by the backbone itself, which only warns "Skip loading" for what does not fit
        "train",
        ["Arch.pretrained={res2net}"],
        "Arch.pretrained: {res2net}.pdparams does not fit the model: ",
    ),
]


@pytest.fixture(scope="module")
def weights(workdir):
    """A 10-class SE_ResNet50_vd checkpoint, and a Res2Net one (another network)."""
    paddle.save(build("SE_ResNet50_vd").state_dict(), str(workdir / "se_resnet.pdparams"))
    paddle.save(build("Res2Net50_vd_26w_4s").state_dict(), str(workdir / "res2net.pdparams"))
    return {"se_resnet": str(workdir / "se_resnet"), "res2net": str(workdir / "res2net")}


@pytest.mark.parametrize("case", range(len(WRONG)))
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_weights_that_do_not_fit_are_one_line_and_nothing_is_written(engine, case, workdir, weights):
    mode, extra, message = WRONG[case]
    out = workdir / f"wrong_{engine}{case}"
    args = overrides(workdir, out.name) + [
        f"Global.pretrained_model={weights['se_resnet']}",
        f"Global.save_inference_dir={out}/inference",
    ]
    (error,) = refusals(
        mode, "rdrop_se_resnet.yaml", [args + [o.format(**weights) for o in extra]], cwd=workdir, env=ENGINES[engine]
    )
    assert_refused(error, message.format(**weights), out)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_fine_tuning_a_classifier_of_another_size_trains_with_one_warning_in_the_log(engine, workdir, weights):
    extra = overrides(workdir, f"fine_tuned_{engine}") + [
        f"Global.pretrained_model={weights['se_resnet']}",
        "Arch.class_num=12",
    ]
    result = run_tool("train.py", "baseline_se_resnet.yaml", extra, cwd=workdir, env=ENGINES[engine])
    warning = "has a classifier of another size (out.bias is [10] there, [12] here): it is trained anew"
    assert warning in result.stdout + result.stderr
    assert warning in (workdir / f"fine_tuned_{engine}" / "train.log").read_text()
