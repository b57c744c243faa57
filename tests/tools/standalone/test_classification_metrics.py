"""The standalone engine's single-label metrics of PULC's and ImageNet's configs against PaddleClas's own classes,
imported from its source tree, on the same batches of one evaluation: DistillationTopkAcc and GoogLeNetTopkAcc on
digits at 32 px, TprAtFpr on digits and on seeded two-class logits; the value the best model is kept on; the
output PaddleClas's evaluation hands its metrics; and every Metric entry of the tree's PULC, ImageNet and
MultiLabelCOCO configs."""

import glob
import os
import sys

import numpy as np
import paddle
import pytest
import yaml

ROOT = os.environ.get("PADDLECLAS_ROOT")
NEEDS_TREE = (
    "PADDLECLAS_ROOT is unset: this test compares with PaddleClas's own DistillationTopkAcc, GoogLeNetTopkAcc and "
    "TprAtFpr or reads its PULC and ImageNet configs, which only its source tree has (not the pip wheel)"
)


@pytest.fixture(scope="module")
def theirs():
    """PaddleClas's `ppcls.metric.metrics` of the source tree, its logger (and the wheel's) set up as the engines
    do (TprAtFpr warns on no negative)."""
    if not ROOT:
        pytest.skip(NEEDS_TREE)
    if ROOT not in sys.path:
        sys.path.append(ROOT)
    from paddleclas.ppcls.utils import logger as wheel_logger
    from ppcls.metric import metrics
    from ppcls.utils import logger

    logger.init_logger()
    wheel_logger.init_logger()
    return metrics


def project(images, classes, seed, scale=1.0):
    """Logits float32 ``[B, classes]``: `images` ``[B, 3, H, W]`` through a seeded random projection."""
    rng = np.random.default_rng(seed)
    projection = rng.normal(0, 0.02 * scale, (int(np.prod(images.shape[1:])), classes)).astype("float32")
    return images.reshape([images.shape[0], -1]).numpy() @ projection


@pytest.fixture(scope="module")
def networks(digits):
    """({"Teacher": logits, "Student": logits} float32 ``[24, 10]`` each, labels int64 ``[24, 1]``): two seeded
    projections of the digits, the teacher's and the student's, plus 2 and 1 at each digit's class (neither
    network always right)."""
    images, labels = digits
    onehot = np.eye(10, dtype="float32")[labels.numpy().reshape(-1)]
    outputs = {"Teacher": project(images, 10, 1) + 2 * onehot, "Student": project(images, 10, 2) + onehot}
    return outputs, labels.numpy()


def batches(count, parts):
    """The index arrays of `parts` consecutive batches of uneven sizes over `count` samples."""
    return np.split(np.arange(count), [count // 5, count // 2][: parts - 1])


def tensors(tree, part):
    """`tree` (an array, or a dict or list of them) at the rows `part`, as paddle tensors."""
    if isinstance(tree, dict):
        return {key: tensors(value, part) for key, value in tree.items()}
    if isinstance(tree, list):
        return [tensors(value, part) for value in tree]
    return paddle.to_tensor(tree[part])


def compare_over_batches(ours, theirs, outputs, labels):
    """Call both metrics on three batches of `outputs` / `labels`: the per-batch values agree, and the
    sample-weighted means PaddleClas's evaluation logs (its `avg_info`) are the ours' means. Returns those."""
    sums, count = {}, 0
    for part in batches(len(labels), 3):
        x, y = tensors(outputs, part), paddle.to_tensor(labels[part])
        mine, paddleclas = ours(x, y), theirs(x, y)
        assert list(mine) == list(paddleclas)
        for key, value in mine.items():
            assert float(value) == pytest.approx(float(paddleclas[key]), abs=1e-7)
            sums[key] = sums.get(key, 0.0) + float(value) * len(part)
        count += len(part)
    means = {key: value / count for key, value in sums.items()}
    assert theirs.avg_info == ", ".join(f"{key}: {value:.5f}" for key, value in means.items())
    assert theirs.avg == pytest.approx(next(iter(means.values())), abs=1e-6)
    return means


DISTILLATION_OPTIONS = [{"model_key": "Student", "topk": [1, 5]}, {"model_key": "Teacher", "topk": [1, 2]},
                        {"model_key": "Student", "topk": 1}]  # fmt: skip


@pytest.mark.parametrize("options", DISTILLATION_OPTIONS)
def test_distillation_topk_acc_is_paddleclas_own(theirs, networks, options):
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    outputs, labels = networks
    ours = Metrics([{"DistillationTopkAcc": options}], "Metric.Train")
    means = compare_over_batches(ours, theirs.DistillationTopkAcc(**options), outputs, labels)
    assert 0 < means["top1"] < 1 and ours.main_key is None  # kept on top-1, the first "top" value, as PaddleClas


def test_distillation_topk_acc_reads_feature_key_and_a_student_alone(theirs, networks):
    from paddleclas_rdrop.tools.standalone.classification_metrics import DistillationTopkAcc

    outputs, labels = networks
    nested = {name: {"logits": logits} for name, logits in outputs.items()}
    options = {"model_key": "Teacher", "feature_key": "logits", "topk": [1, 5]}
    compare_over_batches(DistillationTopkAcc(**options), theirs.DistillationTopkAcc(**options), nested, labels)
    student = {"model_key": "Student", "topk": [1, 5]}  # PaddleClas's evaluation hands over the student's logits
    ours, paddleclas = DistillationTopkAcc(**student), theirs.DistillationTopkAcc(**student)
    compare_over_batches(ours, paddleclas, outputs["Student"], labels)


def test_googlenet_topk_acc_is_paddleclas_own(theirs, networks):
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    outputs, labels = networks
    three = [outputs["Student"], outputs["Teacher"], outputs["Teacher"] * 2]  # GoogLeNet's [out, aux1, aux2]
    ours = Metrics([{"GoogLeNetTopkAcc": {"topk": [1, 5]}}], "Metric.Eval")
    compare_over_batches(ours, theirs.GoogLeNetTopkAcc(topk=[1, 5]), three, labels)


def test_distillation_topk_acc_entries_are_checked():
    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    with pytest.raises(ConfigError, match=r"Metric.Train.0.DistillationTopkAcc.model_key is required"):
        Metrics([{"DistillationTopkAcc": {"topk": [1, 5]}}], "Metric.Train")
    with pytest.raises(ConfigError, match=r"model_key 'Pupil' is none of the networks \['Teacher', 'Student'\]"):
        metric = Metrics([{"DistillationTopkAcc": {"model_key": "Pupil"}}], "Metric.Train")
        metric({"Teacher": paddle.zeros([2, 3]), "Student": paddle.zeros([2, 3])}, paddle.zeros([2, 1], "int64"))


def test_evaluated_output_is_paddleclas_classification_evals():
    from paddleclas_rdrop.tools.standalone.classification_metrics import evaluated_output

    student, teacher = paddle.ones([2, 3]), paddle.zeros([2, 3])
    assert evaluated_output({"Teacher": teacher, "Student": student}) is student
    assert evaluated_output({"Teacher": teacher, "Student": {"logits": student, "features": teacher}}) is student
    assert evaluated_output({"logits": student}) is student
    assert evaluated_output(student) is student
    assert evaluated_output([student, teacher])[0] is student


@pytest.fixture(scope="module")
def two_class(digits):
    """(logits float32 ``[24, 2]``, labels int64 ``[24, 1]``): the digits through a seeded projection, plus 0.3
    at class 1 for the odd digits, which are the positives (1) and the even ones the negatives (0)."""
    images, labels = digits
    odd = labels.numpy() % 2
    return project(images, 2, 3) + 0.3 * np.eye(2, dtype="float32")[odd.reshape(-1)], odd


def seeded_two_class(count=3000, seed=0):
    """(logits float32 ``[count, 2]``, labels int64 ``[count, 1]``) from a seeded generator: a third positive,
    their class-1 logit 2 higher on average."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((count, 1)) < 1 / 3).astype("int64")
    logits = rng.normal(0, 1, (count, 2)).astype("float32")
    logits[:, 1] += 2 * labels[:, 0]
    return logits, labels


def tpr_at_fpr_over_batches(theirs, logits, labels, options):
    """Standalone and PaddleClas's TprAtFpr over the three batches of one evaluation, as the engines read them:
    (our `Metrics`, our summary, PaddleClas's avg_info, PaddleClas's avg)."""
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    ours = Metrics([{"TprAtFpr": options}, {"TopkAcc": {"topk": [1, 2]}}], "Metric.Eval")
    paddleclas = theirs.TprAtFpr(**options)
    ours.reset()
    paddleclas.reset()
    for part in batches(len(labels), 3):
        x, y = paddle.to_tensor(logits[part]), paddle.to_tensor(labels[part])
        assert set(ours(x, y)) == {"top1", "top2"}  # TprAtFpr gives no per-batch value, as PaddleClas's
        paddleclas(x, y)
    info = paddleclas.avg_info  # PaddleClas's avg is set by avg_info, which its Engine logs first
    return ours, ours.summary(), info, paddleclas.avg


@pytest.mark.parametrize("max_fpr", [None, 0.0001, 0.01, 0.1, 0.2, 0.0])
@pytest.mark.parametrize("data", ["digits", "seeded"])
def test_tpr_at_fpr_is_paddleclas_own_over_an_evaluation(theirs, two_class, data, max_fpr):
    logits, labels = two_class if data == "digits" else seeded_two_class()
    options = {} if max_fpr is None else {"max_fpr": max_fpr}
    ours, summary, info, avg = tpr_at_fpr_over_batches(theirs, logits, labels, options)
    metric = ours.metrics[0]
    assert metric.avg_info == info and metric.avg == avg
    assert ours.main_key == "tpr" and summary.get("tpr", 0.0) == avg  # the value both engines keep the best model on
    if info:
        threshold, fpr, tpr = (float(part.split(": ")[1]) for part in info.split(", "))
        assert summary == {"threshold": threshold, "fpr": fpr, "tpr": pytest.approx(tpr, abs=5e-6)}
        assert fpr <= metric.max_fpr
    else:
        assert summary == {}  # PaddleClas's log shows nothing of it
    assert ours.summary() == summary  # summarising twice gives the same values
    ours.reset()
    assert ours.summary() == {}


@pytest.mark.parametrize("data, max_fpr", [("digits", 0.1), ("seeded", 0.01)])
def test_tpr_at_fpr_finds_rates_between_0_and_1(theirs, two_class, data, max_fpr):
    logits, labels = two_class if data == "digits" else seeded_two_class()
    _, summary, info, _ = tpr_at_fpr_over_batches(theirs, logits, labels, {"max_fpr": max_fpr})
    assert 0 < summary["tpr"] < 1 and 0 < summary["fpr"] <= max_fpr and info.startswith("threshold: 0.")


@pytest.mark.parametrize("kept", ["positives", "negatives"])
def test_tpr_at_fpr_with_one_class_only_is_paddleclas_own(theirs, kept):
    logits, labels = seeded_two_class(count=600, seed=1)
    rows = (labels[:, 0] == 1) if kept == "positives" else (labels[:, 0] == 0)
    with np.errstate(invalid="ignore"):  # PaddleClas divides 0 negatives by 0
        ours, summary, info, avg = tpr_at_fpr_over_batches(theirs, logits[rows], labels[rows], {})
    assert ours.metrics[0].avg_info == info and summary.get("tpr", 0.0) == avg
    if kept == "positives":  # PaddleClas warns and reports FPR 0.0 at the lowest threshold
        assert info.startswith("threshold: 0.0, fpr: 0.0, tpr: 1.00000") and summary["fpr"] == 0.0
    else:
        assert info == "" and summary == {}


@pytest.mark.skipif(not ROOT, reason=NEEDS_TREE)
def test_every_metric_of_the_trees_pulc_imagenet_and_multilabel_coco_configs_builds():
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    names = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "ppcls", "configs", "*", "**", "*.yaml"), recursive=True)):
        if os.path.relpath(path, ROOT).split(os.sep)[2] not in ("PULC", "ImageNet", "MultiLabelCOCO"):
            continue
        with open(path) as file:
            config = yaml.safe_load(file)
        for mode, entries in (config.get("Metric") or {}).items():
            Metrics(entries, f"{os.path.basename(path)}: Metric.{mode}")
            names.update(name for entry in entries or [] for name in entry)
    assert names == {"TopkAcc", "DistillationTopkAcc", "GoogLeNetTopkAcc", "TprAtFpr", "ATTRMetric", "MultiLabelMAP"}
