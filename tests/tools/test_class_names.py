"""A class name PaddleClas's Engine would look up only while it builds (an optimizer, a schedule, a dataset, a
sampler, an operator) is one line naming the key before anything is written; the tree's own configs name
classes its PaddleClas has, but two (`tools/class_names.py`)."""

import os
import subprocess
import sys

import pytest

from engine_runs import ENGINES, NEEDS_TREE, assert_refused, overrides, refusals, tool_environment

needs_tree = pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE)

CASES = [
    (["Optimizer.lr.name=Cosin"], "Optimizer.lr.name: PaddleClas has no 'Cosin' in ppcls.optimizer.learning_rate "
     "(did you mean `Cosine`?); give one of its names"),
    (["Optimizer.name=Adamm"], "Optimizer.name: PaddleClas has no 'Adamm' in ppcls.optimizer.optimizer (did you mean"),
    (["DataLoader.Train.dataset.name=ImageNetDatasett"], "DataLoader.Train.dataset.name: PaddleClas has no "
     "'ImageNetDatasett' in ppcls.data (did you mean `ImageNetDataset`?)"),
    (["Optimizer.regularizer.name=L3"], "Optimizer.regularizer.name: PaddleClas has no 'L3' in paddle.regularizer"),
]  # fmt: skip


@needs_tree
def test_a_class_name_paddleclas_lacks_is_one_line_naming_the_key(workdir):
    cases = [overrides(workdir, f"named{index}") + extra for index, (extra, _) in enumerate(CASES)]
    errors = refusals("train", "rdrop_se_resnet.yaml", cases, cwd=workdir, env=ENGINES["paddleclas"])
    for index, ((_, message), error) in enumerate(zip(CASES, errors)):
        assert_refused(error, message, workdir / f"named{index}")


SWEEP = """
import glob, os, sys, yaml
root = os.environ["PADDLECLAS_ROOT"]
sys.path.insert(0, root)
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.class_names import check_class_names
for path in sorted(glob.glob(os.path.join(root, "ppcls", "configs", "**", "*.yaml"), recursive=True)):
    with open(path) as handle:
        config = yaml.safe_load(handle)
    try:
        check_class_names(config)
    except ConfigError as error:
        print(os.path.relpath(path, root), error)
"""


@needs_tree
def test_the_tree_s_configs_name_classes_its_paddleclas_has_but_two_that_paddleclas_cannot_build():
    result = subprocess.run(
        [sys.executable, "-c", SWEEP], capture_output=True, text=True, env=tool_environment(ENGINES["paddleclas"]),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "ppcls/configs/PULC/clarity_assessment/PPLCNet_x1_0.yaml DataLoader.Train.dataset.transform_ops.1: PaddleClas "
        "has no 'BlurImage' in ppcls.data.preprocess (did you mean `Image`?); give one of its names",
        "ppcls/configs/ResNet50_UReID_infer.yaml DataLoader.Train.dataset.transform_ops.3: PaddleClas has no "
        "'RandomCrop' in ppcls.data.preprocess (did you mean `RandomCropImage`?); give one of its names",
    ]
