"""R-Drop on the student of PaddleClas's PULC distillation recipe (`PULC/person_exists/PPLCNet_x1_0_distillation.yaml`:
a frozen ResNet101_vd teacher, a PPLCNet_x1_0 student, DistillationDMLLoss) on digits, even against odd: the
student runs its k passes, the teacher once per step, and the export is the student (`infer_model_name`).
A DistillationModel without `RDropLoss.model_name` is one error line naming its networks."""

import json
import os
import subprocess
import sys

import pytest
import yaml

import forks
from engine_runs import ENGINES, NEEDS_TREE, PROJECT, engine_param, refusals, step_losses, tool_environment

ROOT = os.environ.get("PADDLECLAS_ROOT")
RECIPE = ("ppcls", "configs", "PULC", "person_exists", "PPLCNet_x1_0_distillation.yaml")
pytestmark = pytest.mark.skipif(not ROOT, reason=NEEDS_TREE + " (the PULC recipe is in the tree)")

# the plugin's tools/train.py, counting the teacher's forward calls in training as (rows of the batch)
COUNTING_TRAIN = """
import json, os, sys
from paddleclas.ppcls import arch as wheel_arch
calls = []
def counted(cls):
    init = cls.__init__
    def counting_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        teacher = self.model_list[self.model_name_list.index("Teacher")]
        teacher.register_forward_post_hook(
            lambda layer, inputs, output: calls.append(int(inputs[0].shape[0])) if layer.training else None
        )
    cls.__init__ = counting_init
counted(wheel_arch.DistillationModel)
if os.environ.get("PADDLECLAS_ROOT"):
    sys.path.append(os.environ["PADDLECLAS_ROOT"])
    import ppcls.arch
    counted(ppcls.arch.DistillationModel)
from paddleclas_rdrop.tools.cli import main
sys.argv = ["tools/train.py"] + sys.argv[1:]
try:
    main("train")
finally:
    json.dump(calls, open(os.environ["RECORD"], "w"))
"""


def even_odd_lists(digits):
    """The digits' lists with each label replaced by its parity (PULC's 2 classes)."""
    for name in ("train_list.txt", "val_list.txt"):
        lines = (digits / name).read_text().split("\n")
        parity = [f"{path} {int(label) % 2}" for path, label in (line.split() for line in lines if line.strip())]
        (digits / f"parity_{name}").write_text("\n".join(parity) + "\n")


def distillation_config(workdir, name, model_name="Student"):
    """The PULC recipe at 16 px on the parity lists, no download, one epoch, with R-Drop's three entries."""
    with open(os.path.join(ROOT, *RECIPE)) as handle:
        config = yaml.safe_load(handle)
    out = workdir / name
    config["Global"].update(
        train_mode="rdrop", device="cpu", epochs=1, print_batch_step=1, image_shape=[3, 16, 16], output_dir=str(out),
        save_inference_dir=str(out / "inference"),
    )  # fmt: skip
    config["RDrop"] = {"head_dropout": 0.1}
    entry = {"weight": 1.0} if model_name is None else {"weight": 1.0, "model_name": model_name}
    config["Loss"]["Train"].append({"RDropLoss": entry})
    for network in config["Arch"]["models"]:
        for params in network.values():
            params["pretrained"] = False
            params.pop("use_ssld", None)
    for split, name_ in (("Train", "parity_train_list.txt"), ("Eval", "parity_val_list.txt")):
        loader = config["DataLoader"][split]
        dataset = loader["dataset"]
        dataset.update(image_root=str(workdir / "digits"), cls_label_path=str(workdir / "digits" / name_))
        dataset["transform_ops"] = [
            {"DecodeImage": {"to_rgb": True, "channel_first": False}},
            {"ResizeImage": {"size": 16}},
            {"NormalizeImage": {"scale": 1.0 / 255.0, "mean": [0.5] * 3, "std": [0.5] * 3, "order": ""}},
        ]
        loader["sampler"]["batch_size"] = 16
        loader["loader"]["num_workers"] = 0
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path), out


@pytest.mark.parametrize("engine", [engine_param("paddleclas"), engine_param("standalone")])
def test_the_student_runs_k_passes_the_teacher_one_and_the_export_is_the_student(engine, workdir):
    even_odd_lists(workdir / "digits")
    config, out = distillation_config(workdir, f"distill_{engine}")
    record = workdir / f"teacher_{engine}.json"
    environment = tool_environment({**ENGINES[engine], "RECORD": str(record)})
    trained = subprocess.run(
        [sys.executable, "-c", COUNTING_TRAIN, "-c", config], cwd=workdir, capture_output=True, text=True,
        env=environment, timeout=900,
    )  # fmt: skip
    log = trained.stdout + trained.stderr
    assert trained.returncode == 0, log[-3000:]
    kl = step_losses(log, "RDropLoss")
    train_images = len((workdir / "digits" / "parity_train_list.txt").read_text().split())
    steps = -(-train_images // 2 // 16)
    assert len(kl) == steps and all(value > 0 for value in kl)
    teacher = json.loads(record.read_text())
    assert len(teacher) == steps and max(teacher) <= 16, teacher  # once per step, on the batch, not k x it
    exported = forks.run(
        [sys.executable, os.path.join(PROJECT, "tools", "export_model.py"), "-c", config,
         "-o", f"Global.pretrained_model={out / 'best_model'}"],
        cwd=workdir, env=environment, timeout=600,
    )  # fmt: skip
    assert exported.returncode == 0, (exported.stdout + exported.stderr)[-3000:]
    assert exported_parameters(out / "inference" / "inference") == student_parameters()


def exported_parameters(prefix):
    """The number of weights of the network exported at `prefix`."""
    import paddle

    return sum(int(parameter.size) for parameter in paddle.jit.load(str(prefix)).parameters())


def student_parameters():
    """The number of weights of the recipe's student, PPLCNet_x1_0 with 2 classes."""
    from paddleclas.ppcls.arch.backbone import PPLCNet_x1_0

    return sum(int(parameter.size) for parameter in PPLCNet_x1_0(class_num=2).parameters())


def test_a_distillation_model_without_model_name_is_one_line_naming_its_networks(workdir):
    even_odd_lists(workdir / "digits")
    config, out = distillation_config(workdir, "distill_unnamed", model_name=None)
    result = subprocess.run(
        [sys.executable, os.path.join(PROJECT, "tools", "train.py"), "-c", config], cwd=workdir,
        capture_output=True, text=True, env=tool_environment(ENGINES["paddleclas"]), timeout=600,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: Loss.Train.RDropLoss.model_name has none: Arch is a DistillationModel of the networks "
        "['Teacher', 'Student'], and R-Drop regularises the one that trains: set model_name: Student in the "
        "RDropLoss entry (Teacher is frozen)"
    ], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and not out.exists()


@pytest.mark.parametrize("engine", [engine_param("paddleclas"), engine_param("standalone")])
def test_a_frozen_teacher_whose_weights_do_not_fit_is_one_line(engine, workdir):
    """Arch.models.<i>.<name>.pretrained is loaded by PaddleClas's backbone, which skips what does not fit: a
    frozen teacher would keep a random classifier and teach it."""
    import paddle

    from models import build

    even_odd_lists(workdir / "digits")
    config, out = distillation_config(workdir, f"distill_teacher_{engine}")
    teacher = workdir / "teacher_10_classes"
    paddle.save(build("MobileNetV1_x0_25", class_num=10).state_dict(), f"{teacher}.pdparams")
    case = ["Arch.models.0.Teacher.name=MobileNetV1_x0_25", f"Arch.models.0.Teacher.pretrained={teacher}"]
    (error,) = refusals("train", config, [case], cwd=workdir, env=ENGINES[engine])
    assert error.startswith(
        f"error: Arch.models.0.Teacher.pretrained: {teacher}.pdparams does not fit the model (the network is frozen: "
        "its classifier is not trained): "
    ), error
    assert error.endswith(
        "point Arch.models.0.Teacher.pretrained at weights of Arch.models.0.Teacher.name MobileNetV1_x0_25 "
        "trained on this run's 2 classes"
    ), error
    assert not out.exists()
