"""tools/compare.py: a tiny comparison end to end on both engines, with --corruptions (the report's numbers,
robustness's too, against the results file, balanced accuracy in top-1's place on the imbalanced val list, only
the best run's weights kept; on the standalone engine, as compare does the same on both, a resume that runs
nothing again and reuses the corrupted copies, which copies made anew match pixel for pixel), the twin it derives,
and one line per bad input."""

import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy import stats

from engine_runs import ENGINES, NEEDS_TREE, PROJECT, TINY, overrides, tool_environment

TOOLS = os.path.join(PROJECT, "tools")
RECIPE = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")


def compare_command(workdir, out, *extra):
    keys = overrides(workdir, "unused", epochs=1) + TINY
    command = [sys.executable, os.path.join(TOOLS, "compare.py"), "-c", RECIPE, "--seeds", "2", "--out", str(out)]
    return command + [arg for key in keys for arg in ("-o", key)] + list(extra)


def ece(counts):
    count, confidence, correct = np.asarray(counts)
    return np.abs(correct - confidence).sum() / count.sum()


def table(report, header):
    """The rows of the Markdown table whose header starts with `header`: {first cell: cells}."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def check_interval(cell, differences):
    """A report cell `+m [+lo, +hi]` against the 95 % t interval of `differences`, to its digits."""
    mean, low, high = (float(x) for x in re.findall(r"[-+][\d.]+", cell))
    n = len(differences)
    half = stats.t.ppf(0.975, n - 1) * np.std(differences, ddof=1) / math.sqrt(n)
    digits = len(cell.split()[0].split(".")[1])
    for shown, true in (
        (mean, np.mean(differences)),
        (low, np.mean(differences) - half),
        (high, np.mean(differences) + half),
    ):
        assert abs(shown - true) <= 0.6 * 10**-digits, (cell, differences)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_tiny_comparison_reports_what_its_results_file_holds_and_resumes(engine, workdir):
    if engine == "paddleclas" and not ENGINES[engine]["PADDLECLAS_ROOT"]:
        pytest.skip(NEEDS_TREE)
    out = workdir / f"compare_{engine}"
    command = compare_command(workdir, out, "--corruptions", "--keep-weights", "best")
    env = tool_environment(ENGINES[engine])
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    for index in range(1, 5):
        assert f"[compare] run {index} of 4" in result.stdout
    assert "about" in result.stdout.split("[compare] run 2 of 4", 1)[1].splitlines()[0]  # time left
    assert "-o Global.output_dir is not used" in result.stdout

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted((r["arm"], r["seed"]) for r in rows) == [("baseline", 0), ("baseline", 1), ("rdrop", 0), ("rdrop", 1)]
    best = max(rows, key=lambda r: r["balanced_accuracy"])
    for row in rows:
        run = out / "runs" / f"{row['arm']}_seed{row['seed']}"
        assert (run / "train.log").exists() and (run / "latest.pdparams").exists() == (row is best)
        assert row["images"] == len((workdir / "digits" / "val_list.txt").read_text().split("\n")) - 1
        assert row["train_seconds"] > 0 and row["peak_rss_mb"] > 100 and 0 < row["train_cpu_seconds"]
        check_per_class(row, json.loads((run / "eval_per_class.json").read_text()))
    assert f"weights kept: {best['folder']} (the best run" in result.stdout
    twin = yaml.safe_load((out / "configs" / "baseline.train.yaml").read_text())
    assert "train_mode" not in twin["Global"] and all("RDropLoss" not in e for e in twin["Loss"]["Train"])

    report = (out / "report.md").read_text()
    assert IMBALANCED in report and IMBALANCED in result.stdout  # the val list's 3 images of a 1 and 1 of a 0
    arms = table(report, "| arm |")
    for arm in ("baseline", "rdrop"):
        mine = [r for r in rows if r["arm"] == arm]
        seeds, balanced, nll, ece_shown = arms[arm][:4]
        assert int(seeds) == 2
        assert abs(float(balanced) - 100 * np.mean([r["balanced_accuracy"] for r in mine])) < 0.006
        assert abs(float(nll) - np.mean([r["nll"] for r in mine])) < 0.00006
        assert abs(float(ece_shown) - 100 * np.mean([ece(r["counts"]) for r in mine])) < 0.006
    by = {(r["arm"], r["seed"]): r for r in rows}
    pair = table(report, "| a - b |")["rdrop - baseline"]
    assert pair[0] == "2"
    for cell, metric, scale in ((pair[1], "balanced_accuracy", 100), (pair[2], "nll", 1), (pair[3], "ece", 100)):
        value = (lambda r: ece(r["counts"])) if metric == "ece" else (lambda r, m=metric: r[m])
        check_interval(cell, [scale * (value(by[("rdrop", s)]) - value(by[("baseline", s)])) for s in (0, 1)])
    verdict = r"^rdrop vs baseline \(2 seeds, 95 % intervals\): balanced accuracy .*(within the noise|better|worse)"
    assert re.search(verdict, result.stdout, re.M)
    assert (out / "report.png").stat().st_size > 10_000
    copies = check_robustness(out, rows, report, result.stdout)
    if engine == "standalone":  # compare's own resume and copies, made before any run: the same on both engines
        check_a_second_call(command, env, workdir, out, copies)
        check_a_stop_during_evaluation(command, env, workdir, out, best)
    for weights in glob.glob(str(out / "runs" / "*" / "*.pd*")):
        os.remove(weights)


def check_a_second_call(command, env, workdir, out, copies):
    """The same command again runs nothing and reuses the copies, and copies made anew have their pixels."""
    before = (out / "results.jsonl").read_text()
    again = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "[compare] run" not in again.stdout, again.stdout + again.stderr
    assert (out / "results.jsonl").read_text() == before
    assert f"[corruptions] reused the copies in {out / 'corruptions'}" in again.stdout
    assert stamps(out / "corruptions") == copies  # the second call made nothing anew
    check_same_pixels(workdir, out / "corruptions")


def check_a_stop_during_evaluation(command, env, workdir, out, best):
    """A run whose training ended but whose line is not in the results file (a stop during its evaluation) is
    evaluated again, not trained: the best run's, whose weights --keep-weights best kept."""
    lines = (out / "results.jsonl").read_text().splitlines()
    (mine,) = [line for line in lines if json.loads(line)["folder"] == best["folder"]]
    (out / "results.jsonl").write_text("".join(f"{line}\n" for line in lines if line != mine))
    log = os.path.join(best["folder"], "train.out")
    written = os.stat(log).st_mtime_ns
    again = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    name = f"{best['arm']} seed {best['seed']}"
    assert f"[compare] run 1 of 1: {name}" in again.stdout
    assert f"[compare] {name}: its training ended before (its weights in {best['folder']}): evaluating" in again.stdout
    assert os.stat(log).st_mtime_ns == written  # not trained again
    row = json.loads((out / "results.jsonl").read_text().splitlines()[-1])
    for key in ("train_seconds", "train_cpu_seconds", "peak_rss_mb", "epochs", "top1", "nll", "counts"):
        assert row[key] == best[key], key  # its training's record, and the same weights evaluated alike


def stamps(folder):
    """{path: modification time} of every file under `folder`."""
    return {path: os.stat(path).st_mtime_ns for path in glob.glob(str(folder / "**" / "*"), recursive=True)}


def check_robustness(out, rows, report, stdout):
    """The --corruptions part of a tiny comparison: every run evaluated on every copy, the robustness table's
    numbers against the results file (mCE computed here from the errors), the printed lines of each run's
    tools/eval.py --corruptions, and the plot; the copies' modification times."""
    manifest = json.loads((out / "corruptions" / "manifest.json").read_text())
    names = list(manifest["lists"])
    assert len(names) >= 12 and f"made {len(names)} corruptions x 5 severities of {rows[0]['images']} images" in stdout
    for name, why in manifest["left_out"].items():
        assert f"[corruptions] {name} left out: {why}" in stdout
    copies = {f"{name}/{severity}" for name in names for severity in range(1, 6)}
    corrupted = lambda r, key: np.mean([r["corruptions"][c][key] for c in copies])  # noqa: E731
    for row in rows:
        assert set(row["corruptions"]) == copies and {v["images"] for v in row["corruptions"].values()} == {
            row["images"]
        }
        printed = (out / "runs" / f"{row['arm']}_seed{row['seed']}" / "eval.out").read_text()
        assert f"[corruptions] reused the copies in {out / 'corruptions'}" in printed  # made once, by compare
        assert f"[corruptions] mean over {len(names)} corruptions x 5 severities: top-1 " in printed
        assert f"top-1 {100 * corrupted(row, 'top1'):.2f} %, ECE {100 * corrupted(row, 'ece'):.2f} %" in printed

    def errors(arm, name):  # the top-1 error summed over severities, averaged over the arm's seeds
        return np.mean(
            [[1 - r["corruptions"][f"{name}/{s}"]["top1"] for s in range(1, 6)] for r in rows if r["arm"] == arm],
            axis=0,
        ).sum()

    arms = table(report.split("## Robustness", 1)[1], "| arm |")
    for arm in ("baseline", "rdrop"):
        mine = [r for r in rows if r["arm"] == arm]
        clean, top1, clean_ece, ece_shown, mce = arms[arm][1:6]
        assert abs(float(clean) - 100 * np.mean([r["top1"] for r in mine])) < 0.006
        assert abs(float(top1) - 100 * np.mean([corrupted(r, "top1") for r in mine])) < 0.006
        assert abs(float(ece_shown) - 100 * np.mean([corrupted(r, "ece") for r in mine])) < 0.006
        assert abs(float(mce) - 100 * np.mean([errors(arm, n) / errors("baseline", n) for n in names])) < 0.006
    by = {(r["arm"], r["seed"]): r for r in rows}
    pair = table(report.split("## Robustness", 1)[1], "| a - b |")["rdrop - baseline"]
    check_interval(
        pair[1], [100 * (corrupted(by[("rdrop", s)], "top1") - corrupted(by[("baseline", s)], "top1")) for s in (0, 1)]
    )
    assert re.search(r"^rdrop vs baseline under corruption \(2 seeds, 95 % intervals\): top-1 ", stdout, re.M)
    assert (out / "robustness.png").stat().st_size > 10_000
    return stamps(out / "corruptions")


def check_same_pixels(workdir, copies):
    """Copies made anew from the same list, in another folder, have the pixels of `copies`."""
    from paddleclas_rdrop.tools.data.corrupted_copies import make_copies

    fresh = workdir / "fresh_copies"
    digits = workdir / "digits"
    manifest = make_copies(str(digits), str(digits / "val_list.txt"), str(fresh), say=lambda line: None)
    assert manifest["key"] == json.loads((copies / "manifest.json").read_text())["key"]
    made = sorted(glob.glob(str(copies / "*" / "*" / "*.png")))
    assert len(made) == 5 * len(manifest["lists"]) * manifest["images"]
    for path in made:
        again = fresh / os.path.relpath(path, copies)
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(again))), path
    shutil.rmtree(fresh)


IMBALANCED = "The evaluation list is imbalanced (its largest class has 3.0x the images of its smallest, above 1.5x)"


def check_per_class(row, recorded):
    """A results row's balanced accuracy and class counts against the per-class results eval.py wrote, and those
    against the Calibration metric's top-1 of the same evaluation."""
    confusion = np.asarray(recorded["confusion_matrix"])
    support = confusion.sum(axis=1)
    assert row["support"] == support.tolist() == recorded["support"] and support.sum() == row["images"]
    recalls = np.diag(confusion)[support > 0] / support[support > 0]
    assert abs(row["balanced_accuracy"] - recalls.mean()) < 1e-12
    assert abs(row["top1"] - np.trace(confusion) / support.sum()) < 1e-9  # one evaluation, seen by both


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--arms", "rdorp"], "--arms: 'rdorp' is not an arm (did you mean `rdrop`?)"),
        (["--arms", "baseline_long"], "add baseline and rdrop to --arms"),
        (["--seeds", "1"], "--seeds 1: the intervals need at least 2 paired seeds"),
        (["--test-list", "no/such/list.txt"], "--test-list no/such/list.txt: no such file (relative paths are to"),
    ],
)
def test_a_bad_argument_is_one_line(extra, words, tmp_path):
    from paddleclas_rdrop.tools.compare.command import main

    with pytest.raises(SystemExit) as stop:
        main(TOOLS, ["-c", RECIPE, "--out", str(tmp_path / "out"), *extra])
    assert str(stop.value.code).startswith("error: ") and words in str(stop.value.code)
    assert "\n" not in str(stop.value.code) and not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_or_under_one_is_one_line(tmp_path):
    from paddleclas_rdrop.tools.compare.command import main

    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "x"):
        with pytest.raises(SystemExit) as stop:
            main(TOOLS, ["-c", RECIPE, "--out", str(out), "--corruptions"])
        assert (
            str(stop.value.code)
            == f"error: --out {out}: {tmp_path / 'afile'} is a file; give a folder (new, or of this comparison)"
        )
    assert (tmp_path / "afile").read_text() == "x"


def test_a_file_where_compare_writes_a_folder_is_one_line_before_anything_is_written(tmp_path):
    from paddleclas_rdrop.tools.compare.command import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "configs").write_text("a file where compare writes a folder")
    with pytest.raises(SystemExit) as stop:
        main(TOOLS, ["-c", RECIPE, "--out", str(out)])
    assert str(stop.value.code).startswith(f"error: --out {out} holds configs, which compare.py does not write")
    assert sorted(os.listdir(out)) == ["configs"]  # no setup.json, nor its temporary file


@pytest.mark.parametrize("seeds", [2, 4, 5])
def test_fewer_than_five_seeds_are_warned_of_with_the_width_of_their_intervals(seeds, capsys, tmp_path):
    from paddleclas_rdrop.tools.compare.command import parse

    parse(["-c", RECIPE, "--out", str(tmp_path / "out"), "--seeds", str(seeds)])
    said = capsys.readouterr().err
    half = stats.t.ppf(0.975, seeds - 1) / math.sqrt(seeds)  # the interval's half-width in sd of the differences
    expected = f"t({seeds - 1} df) x sd / sqrt({seeds}) = {half:.2f} standard deviations"
    assert (said.startswith(f"warning: --seeds {seeds}: ") and expected in said) == (seeds < 5), said
    assert ("give --seeds 5 or more" in said) == (seeds < 5)


def test_a_config_without_r_drop_has_no_twin(tmp_path):
    from paddleclas_rdrop.tools.compare.command import main

    baseline = os.path.join(PROJECT, "configs", "baseline_se_resnet.yaml")
    with pytest.raises(SystemExit) as stop:
        main(TOOLS, ["-c", baseline, "--out", str(tmp_path / "out")])
    assert str(stop.value.code).startswith(f"error: -c {baseline} has no baseline twin to compare with")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "path", sorted(glob.glob(os.path.join(PROJECT, "configs", "rdrop_*.yaml"))), ids=os.path.basename
)
def test_the_derived_twin_is_the_shipped_baseline(path):
    from paddleclas.ppcls.utils.config import get_config

    from paddleclas_rdrop.tools.compare.arms import baseline_twin, plain

    shipped = plain(get_config(path.replace("rdrop_", "baseline_"), show=False))
    assert plain(baseline_twin(get_config(path, show=False), path)) == shipped


def test_a_results_folder_of_another_setup_is_refused(tmp_path):
    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.compare.runs import check_setup

    check_setup(str(tmp_path), {"configs": {"rdrop": "a: 1\n"}, "eval_list": "DataLoader.Eval"})
    check_setup(str(tmp_path), {"configs": {"baseline": "b: 1\n"}, "eval_list": "DataLoader.Eval"})  # an arm added
    with pytest.raises(ConfigError, match=f"--out {tmp_path} holds a comparison of another setup \\(rdrop differ"):
        check_setup(str(tmp_path), {"configs": {"rdrop": "a: 2\n"}, "eval_list": "DataLoader.Eval"})
    with pytest.raises(ConfigError, match="the evaluation list"):
        check_setup(str(tmp_path), {"configs": {"rdrop": "a: 1\n"}, "eval_list": "/test.txt"})
    for damaged in ('{"configs": {"rdrop"', "[]", '{"eval_list": "DataLoader.Eval"}'):
        (tmp_path / "setup.json").write_text(damaged)
        with pytest.raises(ConfigError, match=f"{tmp_path / 'setup.json'} is not a setup compare.py recorded"):
            check_setup(str(tmp_path), {"configs": {"rdrop": "a: 1\n"}, "eval_list": "DataLoader.Eval"})
    (tmp_path / "setup.json").write_text(json.dumps({"configs": {"rdrop": "a: 1\n"}, "eval_list": "DataLoader.Eval"}))
    with pytest.raises(ConfigError, match=r"--corruptions \(given or not, the list's images, how they decode, or how"):
        check_setup(str(tmp_path), {"configs": {"rdrop": "a: 1\n"}, "eval_list": "DataLoader.Eval", "corruptions": "k"})
    shutil.rmtree(tmp_path)


def test_an_arm_that_cannot_train_is_named_before_any_run(tmp_path):
    from paddleclas_rdrop.tools.compare.command import main

    with pytest.raises(SystemExit) as stop:  # the recipe has Mixup, which per-pass views refuse
        main(TOOLS, ["-c", RECIPE, "--out", str(tmp_path / "out"), "--arms", "baseline,rdrop,views_kl"])
    assert str(stop.value.code).startswith("error: --arms views_kl: RDrop.augment_per_pass gives each pass")
    assert not (tmp_path / "out").exists()


def test_the_equal_compute_epochs_follow_cpu_time_where_recorded_so_a_paused_run_does_not_skew_them():
    from paddleclas_rdrop.tools.compare.runs import long_epochs

    paused = [  # the baseline's wall time includes 40 min stopped; its CPU time does not
        {"arm": "baseline", "seed": 0, "train_seconds": 2550.0, "train_cpu_seconds": 200.0},
        {"arm": "rdrop", "seed": 0, "train_seconds": 320.0, "train_cpu_seconds": 300.0},
    ]
    assert long_epochs(paused, 0, 10) == 15
    walls = [{k: v for k, v in row.items() if k != "train_cpu_seconds"} for row in paused]
    assert long_epochs(walls, 0, 10) == 10  # rows without CPU time: the wall ratio, never below the epochs
    walls[0]["train_seconds"] = 160.0
    assert long_epochs(walls, 0, 10) == 20


def test_the_report_compares_cpu_time_where_recorded_so_a_paused_run_does_not_skew_its_cost():
    from paddleclas_rdrop.tools.compare.report import arm_lines, time_ratio

    paused = [  # as above: the baseline's wall time includes 40 min stopped
        {"arm": "baseline", "seed": 0, "train_seconds": 2550.0, "train_cpu_seconds": 200.0},
        {"arm": "rdrop", "seed": 0, "train_seconds": 320.0, "train_cpu_seconds": 300.0},
    ]
    assert time_ratio(paused, "rdrop", "baseline") == 1.5
    walls = [{k: v for k, v in row.items() if k != "train_cpu_seconds"} for row in paused]
    assert abs(time_ratio(walls, "rdrop", "baseline") - 320 / 2550) < 1e-12
    extra = {"top1": 0.5, "nll": 1.0, "counts": [[10], [6], [5]], "peak_rss_mb": 500, "epochs": None}
    rows = [{**row, **extra} for row in paused]
    assert "| train CPU s |" in arm_lines(rows)[0] and "| 200 |" in arm_lines(rows)[2]


def rows_of(support, balanced):
    """Results rows of baseline and rdrop over seeds 0 and 1 on a list of class counts `support`: rdrop 2 points
    better in top-1 and `balanced` (a list of 4 values: baseline 0, rdrop 0, baseline 1, rdrop 1) in balanced
    accuracy."""
    rows = []
    for index, (seed, arm) in enumerate([(0, "baseline"), (0, "rdrop"), (1, "baseline"), (1, "rdrop")]):
        top1 = 0.80 + 0.02 * (arm == "rdrop") + 0.001 * seed
        row = {"arm": arm, "seed": seed, "top1": top1, "nll": 0.5, "counts": [[10], [8], [8]], "epochs": None}
        row.update(train_seconds=10.0, peak_rss_mb=500, folder=f"runs/{arm}_seed{seed}")
        if support is not None:
            row.update(support=support, balanced_accuracy=balanced[index])
        rows.append(row)
    return rows


def test_the_verdict_reads_balanced_accuracy_on_an_imbalanced_list_and_top1_otherwise():
    from paddleclas_rdrop.tools.compare.report import balance_line, best_run, report_lines, verdict_lines

    balanced = [0.60, 0.50, 0.61, 0.52]  # rdrop finds more of the majority class and less of the rare one
    for support in (None, [5, 5], [6, 4]):  # no per-class results recorded; balanced; 1.5x, still balanced
        rows = rows_of(support, balanced)
        assert verdict_lines(rows)[0].startswith("rdrop vs baseline (2 seeds, 95 % intervals): top-1 +2.00 [")
        assert balance_line(rows) is None and best_run(rows)["folder"] == "runs/rdrop_seed1"
    rows = rows_of([8, 2], balanced)
    verdict = verdict_lines(rows)[0]
    assert (
        verdict.startswith("rdrop vs baseline (2 seeds, 95 % intervals): balanced accuracy -9.50 [")
        and "top-1" not in verdict
    )
    assert "worse" in verdict.split(";")[0]
    note = balance_line(rows)
    assert note.startswith("The evaluation list is imbalanced (its largest class has 4.0x the images of its smallest")
    assert note in report_lines(rows, "title") and best_run(rows)["folder"] == "runs/baseline_seed1"


def test_only_the_numbers_stay_unless_weights_are_kept(tmp_path):
    from paddleclas_rdrop.tools.compare.runs import keep_weights

    rows = rows_of([5, 5], [0.5] * 4)
    for row in rows:
        row["folder"] = str(tmp_path / os.path.basename(row["folder"]))
        os.makedirs(os.path.join(row["folder"], "best_model"))
        for name in ("latest.pdparams", "latest.pdopt", "latest.pdstates", "best_model/model.pdparams", "train.log"):
            open(os.path.join(row["folder"], name), "w").close()
    files = lambda row: sorted(glob.glob("**/*.*", root_dir=row["folder"], recursive=True))  # noqa: E731
    keep_weights(rows, "all")
    assert all(len(files(row)) == 5 for row in rows)
    assert keep_weights(rows, "best") is rows[3]  # the best top-1
    weights = ["best_model/model.pdparams", "latest.pdopt", "latest.pdparams", "latest.pdstates"]
    assert files(rows[3]) == weights + ["train.log"]
    assert all(files(row) == ["train.log"] for row in rows[:3])
    keep_weights(rows, None)
    assert all(files(row) == ["train.log"] for row in rows)
    shutil.rmtree(tmp_path)


def test_a_results_line_is_written_whole_or_cut_back_and_a_broken_one_is_named(tmp_path):
    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.compare.runs import read_results, read_rows

    results = tmp_path / "results.jsonl"
    results.write_text('{"arm": "baseline", "seed": 0}\n')
    script = (  # a file size limit just above the file: the row's write fails half-way (EFBIG), as on a full disk
        "import resource, signal, sys\n"
        "from paddleclas_rdrop.tools.compare.runs import append_row\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({results.stat().st_size + 100}, resource.RLIM_INFINITY))\n"
        "try:\n"
        f"    append_row({str(results)!r}, {{'arm': 'rdrop', 'seed': 0, 'pad': 'x' * 5000}})\n"
        "except OSError as error:\n"
        "    sys.exit(f'{error.filename}: {error.strerror}')\n"
    )
    failed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert failed.stderr.strip().splitlines()[-1] == f"{results}: File too large", failed.stderr
    assert [row["arm"] for row in read_results(str(tmp_path))] == ["baseline"]  # nothing half-written stays
    results.write_text('{"arm": "baseline", "seed": 0}\n{"arm": "rdr')  # a line cut by hand or by a crash
    with pytest.raises(ConfigError, match=f"{results} line 2 is not a whole results line: remove that line"):
        read_results(str(tmp_path))
    results.write_text('{"arm": "baseline", "seed": 0}\n{"arm": "rdr\n{"arm": "rdrop", "seed": 0}\n')
    started = time.time()  # a line in the middle that is not JSON is refused at once: no other process ends it
    with pytest.raises(ConfigError, match=f"{results} line 2 is not a whole"):
        read_rows(str(results), wait=60)
    assert time.time() - started < 30


def test_a_results_line_another_process_is_appending_is_read_once_whole(tmp_path):
    import threading

    from paddleclas_rdrop.tools.compare.runs import read_rows

    path = tmp_path / "results.jsonl"
    path.write_text('{"arm": "baseline", "seed": 0}\n{"arm": "rdr')

    def append_the_rest():
        with open(path, "a") as handle:
            handle.write('op", "seed": 0}\n')

    finish = threading.Timer(0.2, append_the_rest)
    finish.start()
    assert read_rows(str(path), wait=1.0) == [{"arm": "baseline", "seed": 0}, {"arm": "rdrop", "seed": 0}]
    finish.join()


def test_a_training_record_is_taken_only_whole_and_weights_go_only_under_this_out(tmp_path):
    from paddleclas_rdrop.tools.compare.runs import TRAINED, keep_weights, trained

    run = tmp_path / "out" / "runs" / "rdrop_seed0"
    run.mkdir(parents=True)
    (run / "latest.pdparams").write_text("w")
    whole = {"epochs": None, "train_seconds": 3.5, "train_cpu_seconds": 3.0, "peak_rss_mb": 700.0, "config": "c"}
    broken = [{}, {**whole, "train_seconds": "3.5"}, [whole], "not json", "[" * 100000]
    broken += [{**whole, "train_seconds": bad} for bad in (float("nan"), float("inf"), -1.0, True)]
    broken += [{key: value for key, value in whole.items() if key != "epochs"}, {**whole, "epochs": True}]
    for record in broken:
        (run / TRAINED).write_text(record if isinstance(record, str) else json.dumps(record))
        assert "is not a training record" in trained(str(run), None, "c") or "JSON" in trained(str(run), None, "c")
    (run / TRAINED).write_text(json.dumps({**whole, "epochs": 3}))
    said = f"{run / TRAINED} records a training of 3 epochs, this run is of the recipe's epochs"
    assert trained(str(run), None, "c") == said
    (run / TRAINED).write_text(json.dumps({**whole, "seed": 7, "arm": "baseline"}))  # the row's keys stay the row's
    assert trained(str(run), None, "c") == {key: value for key, value in whole.items() if key != "config"}
    assert trained(str(run), None, "another") == f"{run / TRAINED} is of a training on another config than this run's"
    (run / "latest.pdparams").unlink()
    assert trained(str(run), None, "c") == f"its weights ({run / 'latest.pdparams'}) are gone"
    (run / TRAINED).unlink()
    assert trained(str(run), None, "c") == f"its training did not end (no {run / TRAINED})"
    (run / "latest.pdparams").write_text("w")
    original = tmp_path / "elsewhere" / "runs" / "rdrop_seed0"  # the folder a copied results file names
    original.mkdir(parents=True)
    (original / "latest.pdparams").write_text("w")
    keep_weights([{"arm": "rdrop", "seed": 0, "folder": str(original)}], None, str(tmp_path / "out"))
    assert (original / "latest.pdparams").exists() and not (run / "latest.pdparams").exists()


def test_a_second_compare_on_one_out_waits_for_the_first_and_a_signal_then_ends_it(tmp_path):
    import signal
    import time

    from paddleclas_rdrop.tools.data.owned_folder import lock

    out = tmp_path / "out"
    with lock(str(out), exclusive=True, say=print):  # the first comparison, running
        command = [sys.executable, os.path.join(TOOLS, "compare.py"), "-c", RECIPE, "--out", str(out)]
        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = second.stdout.readline()
        while line and "waiting" not in line:
            line = second.stdout.readline()
        assert line.startswith(f"[compare] waiting for another process reading or making {out}"), line
        time.sleep(0.5)
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
    assert second.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"stopped while waiting for another compare.py on {out}; nothing ran"
    assert not (out / "results.jsonl").exists()


def test_a_tool_compare_started_ends_with_compare_even_killed_and_its_stop_is_named(tmp_path):
    import signal
    import time

    from paddleclas_rdrop.tools.compare.runs import failure

    script = (  # compare's way of running a tool, the tool a 60 s sleep; then compare is killed (SIGKILL)
        "import os, sys\n"
        "from paddleclas_rdrop.tools.compare.runs import run_tool\n"
        f"run_tool([sys.executable, '-c', 'import os, time; print(os.getpid(), flush=True); time.sleep(60)'], "
        f"{str(tmp_path / 'tool.out')!r})\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while not (tmp_path / "tool.out").read_text().strip() if (tmp_path / "tool.out").exists() else True:
        assert time.time() < deadline and parent.poll() is None
        time.sleep(0.1)
    tool = int((tmp_path / "tool.out").read_text().split()[0])
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    while os.path.exists(f"/proc/{tool}") and open(f"/proc/{tool}/stat").read().split()[2] != "Z":
        assert time.time() < deadline, "the tool outlived compare"
        time.sleep(0.1)
    (tmp_path / "train.out").write_text("error: ... resume with -o Global.checkpoints=output/latest\n")
    said = str(failure("rdrop seed 1", "tools/train.py", 143, str(tmp_path / "train.out")))
    assert said.startswith(
        "rdrop seed 1: tools/train.py exited 143: stopped by SIGTERM; the same command runs it again"
    )


@pytest.mark.parametrize("stops", [True, False], ids=["a tool that stops on the signal", "one that does not"])
def test_compare_stops_its_running_tool_with_its_own_signal_and_kills_only_one_that_does_not_end(stops):
    import signal

    from paddleclas_rdrop.tools.compare.runs import stop_tool

    on_signal = "sys.exit(130)" if stops else "None"
    tool = subprocess.Popen(
        [sys.executable, "-c", f"import signal, sys, time\nsignal.signal(signal.SIGINT, lambda n, f: {on_signal})\n"
         "print('ready', flush=True)\nwhile True: time.sleep(0.05)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert tool.stdout.readline() == "ready\n"
    started = time.time()
    stop_tool(tool, signal.SIGINT, then=1.5)
    took = time.time() - started
    assert tool.returncode == (130 if stops else -signal.SIGKILL)
    assert took < 1.5 if stops else 1.5 <= took < 10


@pytest.mark.parametrize("end", ["os.kill(os.getpid(), signal.SIGKILL)", "sys.exit('error: a broken model')"])
def test_an_evaluation_ended_from_outside_or_failing_keeps_its_training_and_the_rerun_evaluates_it_again(tmp_path, end):
    from paddleclas_rdrop.tools.compare.runs import TRAINED, RunFailed, fingerprint, run_one

    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "eval.py").write_text(f"import os, signal, sys\n{end}\n")  # an eval.py killed (OOM) or failing
    train = tmp_path / "baseline.train.yaml"
    train.write_text("Global: {}\n")
    run = tmp_path / "runs" / "baseline_seed0"
    run.mkdir(parents=True)
    (run / "latest.pdparams").write_text("w")
    record = {"epochs": None, "train_seconds": 1.0, "train_cpu_seconds": 1.0, "peak_rss_mb": 1.0}
    (run / TRAINED).write_text(json.dumps({**record, "config": fingerprint(str(train))}))
    paths = {"train": str(train), "eval": str(train), "runs": str(tmp_path / "runs")}
    with pytest.raises(RunFailed) as failed:
        run_one("baseline", 0, paths, str(tools), say=lambda line: None)
    if "SIGKILL" in end:
        assert "stopped by SIGKILL; the same command runs it again" in str(failed.value)
    else:
        assert str(failed.value).startswith("baseline seed 0: tools/eval.py exited 1: a broken model")
        assert str(failed.value).endswith(
            f"; its training ended, so the same command evaluates its weights again (remove {run} to train it anew)"
        )
    assert (run / TRAINED).exists() and (run / "latest.pdparams").exists()
    said = []  # the same command again: no tools/train.py here, so a training would fail as train.py's
    with pytest.raises(RunFailed, match="tools/eval.py exited"):
        run_one("baseline", 0, paths, str(tools), say=said.append)
    assert said == [f"[compare] baseline seed 0: its training ended before (its weights in {run}): evaluating them"]
