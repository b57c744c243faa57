"""A top-k at or above the class count (always 1.0) is left out of a run on both engines, with one warning line
naming the key, the class count and why; the end-of-run summary names the first top-k kept. (`predict.py` scores
top-1 only and lists at most every class: `test_own_data.py`, 4 classes at `Infer.PostProcess.topk` 5.) The same
3-class runs show what eval.py says of its list on both engines: the list and its image count, and the per-class
results (`paddleclas_rdrop/tools/evaluations.py`), consistent with the confusion matrix it prints; and the
end-of-run summary's balanced accuracy."""

import json
import re

import numpy as np
import pytest

from paddleclas_rdrop.tools.data.topk import settle_topk
from paddleclas_rdrop.tools.runs.summary import metric_name

from engine_runs import ENGINES, TINY, engine_param, overrides, run_tool

WARNING = (
    "Metric.Eval.0.TopkAcc.topk: top-5 left out: the model has 3 classes (Arch.class_num), so a top-k with k >= 3 "
    "would always be 1.0"
)


def three_classes(workdir):
    """The digits' lists with each label taken modulo 3: a 3-class dataset of the same images."""
    digits = workdir / "digits"
    for name in ("train_list.txt", "val_list.txt"):
        lines = (digits / name).read_text().split("\n")
        rows = [line.split() for line in lines if line.strip()]
        (digits / f"three_{name}").write_text("".join(f"{path} {int(label) % 3}\n" for path, label in rows))
    (digits / "three_label_list.txt").write_text("0 zero\n1 one\n2 two\n")
    return [
        "Arch.class_num=3",
        f"DataLoader.Train.dataset.cls_label_path={digits}/three_train_list.txt",
        f"DataLoader.Eval.dataset.cls_label_path={digits}/three_val_list.txt",
        f"Infer.PostProcess.class_id_map_file={digits}/three_label_list.txt",
    ]


def warned(printed):
    """The distinct console lines of the warning (PaddleClas's Engine here prints each `ppcls` log line twice, on
    two console handlers, whatever logs it: one line logged once)."""
    return {line for line in printed.splitlines() if WARNING in line}


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_top_k_at_the_class_count_is_left_out_with_one_warning_on_both_engines(engine, workdir):
    out = workdir / f"three_{engine}"
    keys = overrides(workdir, out.name) + TINY + three_classes(workdir)
    trained = run_tool("train.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=ENGINES[engine])
    printed = trained.stdout + trained.stderr
    assert len(warned(printed)) == 1, printed[-3000:]
    assert (out / "train.log").read_text().count(WARNING) == 1
    assert "top5" not in printed and "meaningless" not in printed, printed[-3000:]
    assert "top1" in printed
    logged = (out / "train.log").read_text()
    balanced = re.findall(
        r"\[Eval\]\[Epoch 1\]\[balanced accuracy: ([\d.]+), the mean of the per-class recalls\]", logged
    )
    assert len(balanced) == 1 and f"balanced accuracy: {balanced[0]}" in printed, logged[-3000:]
    best = f"best model:  {out / 'best_model'}.pdparams (val top-1 "
    assert f"balanced accuracy {100 * float(balanced[0]):.1f} % at epoch 1)" in trained.stdout.split(best, 1)[1]
    weights = f"Global.pretrained_model={out / 'best_model'}"
    evaluated = run_tool("eval.py", "rdrop_res2net.yaml", keys + [weights], cwd=workdir, env=ENGINES[engine])
    printed = evaluated.stdout + evaluated.stderr
    assert len(warned(printed)) == 1 and "top5" not in printed and "top1" in printed, printed[-3000:]
    check_per_class(evaluated.stdout, workdir / "digits" / "three_val_list.txt", out)


def check_per_class(printed, listed, out):
    """eval.py's output names `listed` and its image count, and prints a row per class (precision, recall, support)
    and a balanced accuracy and top-1 that its confusion matrix gives; the JSON in `out` holds the same matrix."""
    labels = [int(line.split()[1]) for line in listed.read_text().splitlines() if line.strip()]
    assert f"paddleclas-rdrop: evaluating {listed}: {len(labels)} images" in printed, printed[-3000:]
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if f"per-class results on {listed} ({len(labels)} images)" in line)
    assert lines[start + 1].split() == ["class", "precision", "recall", "support"]
    rows = [lines[start + 2 + c].split() for c in range(3)]
    assert [row[:2] for row in rows] == [["0", "zero"], ["1", "one"], ["2", "two"]]
    header = lines.index("confusion matrix (rows: the true class, columns: the predicted class id):", start)
    confusion = np.array([[int(n) for n in lines[header + 2 + c].split()[2:]] for c in range(3)])
    support = confusion.sum(axis=1)
    assert support.tolist() == [labels.count(c) for c in range(3)] == [int(row[4]) for row in rows]
    recall = np.diag(confusion) / support
    assert [row[3] for row in rows] == [f"{r:.3f}" for r in recall]
    top1 = float(re.search(r"\[Eval\]\[Avg\].*?top1: ([\d.]+)", printed).group(1))
    assert f"balanced accuracy: {recall.mean():.5f} (the mean of the per-class recalls), top-1: {top1:.5f}" in lines
    assert abs(top1 - np.trace(confusion) / len(labels)) < 1e-6
    assert json.loads((out / "eval_per_class.json").read_text())["confusion_matrix"] == confusion.tolist()


def test_the_summary_names_the_first_top_k_left():
    config = {"Arch": {"class_num": 3}, "Metric": {"Eval": [{"TopkAcc": {"topk": [5, 2]}}]}}
    assert metric_name(config) == "val top-5"  # PaddleClas keeps the best model by the first k
    assert settle_topk(config, "train").startswith("Metric.Eval.0.TopkAcc.topk: top-5 left out")
    assert metric_name(config) == "val top-2"
    config = {"Arch": {"class_num": 3}, "Metric": {"Eval": [{"DistillationTopkAcc": {"model_key": "Student"}}]}}
    assert settle_topk(config, "eval").startswith("Metric.Eval.0.DistillationTopkAcc.topk: top-5 left out")
    assert config["Metric"]["Eval"][0]["DistillationTopkAcc"] == {"model_key": "Student", "topk": [1]}
    config = {"Arch": {"class_num": 3}, "Metric": {"Eval": [{"TopkAcc": {"topk": [5]}}]}}
    settle_topk(config, "train")
    assert config["Metric"]["Eval"][0]["TopkAcc"]["topk"] == [1]  # nothing else left: top-1, the accuracy there is
    config = {"Arch": {"class_num": 10}, "Metric": {"Eval": [{"TopkAcc": {"topk": [1, 5]}}]}}
    assert settle_topk(config, "train") is None and metric_name(config) == "val top-1"
    assert settle_topk(config, "export") is None
    for odd in ("five", [1, "5"], [True], None):  # left to the engine's metric to refuse
        config = {"Arch": {"class_num": 3}, "Metric": {"Eval": [{"TopkAcc": {"topk": odd}}]}}
        assert settle_topk(config, "train") is None and config["Metric"]["Eval"][0]["TopkAcc"]["topk"] == odd
    config = {"Arch": {"class_num": 3}, "Infer": {"PostProcess": {"name": "Topk", "topk": 5}}}
    assert settle_topk(config, "infer") is None and config["Infer"]["PostProcess"]["topk"] == 5  # a class list


def test_the_standalone_topk_acc_warns_once_as_paddleclas_where_the_tools_do_not_leave_k_out(monkeypatch):
    import paddle

    from paddleclas_rdrop.tools.standalone import classification_metrics

    said = []
    monkeypatch.setattr(classification_metrics.logger, "warning", said.append)
    metric = classification_metrics.TopkAcc(topk=[1, 5])
    logits, label = paddle.to_tensor([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]]), paddle.to_tensor([[1], [2]])
    for _ in range(2):
        values = metric(logits, label)
    assert float(values["top1"]) == 0.5 and float(values["top5"]) == 1.0
    assert said == ["The output dims(3) is less than k(5), so the Top-5 metric is meaningless."]
