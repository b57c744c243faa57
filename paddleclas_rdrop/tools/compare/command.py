"""`tools/compare.py -c RECIPE [-o key=value ...] [--seeds N] [--arms ...] [--test-list FILE] [--corruptions]`:
the R-Drop recipe against its baseline twin (and the optional arms of `arms.ARMS`) over N paired seeds, each run
trained and evaluated by the project's own tools on the engine they select (with --corruptions, on corrupted
copies of the evaluation list too: `robustness`), then the report.

Importing this module imports paddle quietly (`quiet.import_paddle_quietly`): only `tools/compare.py`
imports it, as its first step.
"""

import os
import signal
import sys

import yaml

from ..quiet import import_paddle_quietly

import_paddle_quietly()

from ...core.errors import ConfigError, RDropError, TrainingStopped, stop_signal  # noqa: E402
from ...core.files import write_text  # noqa: E402
from ..data.class_balance import RATIO  # noqa: E402
from ..data.corrupted_copies import source_key  # noqa: E402
from ..data.corruptions import decode_backend  # noqa: E402
from ..data.owned_folder import Stopped, lock  # noqa: E402
from . import robustness  # noqa: E402
from .arms import ARMS, DEFAULT_ARMS, arm_configs, parse_arms, plain  # noqa: E402
from .eval_list import check_evaluated_list  # noqa: E402
from .out_folder import check_out  # noqa: E402
from .report import balance_line, best_run, plot, report_lines, verdict_lines  # noqa: E402
from .runs import check_setup, read_results, run_all  # noqa: E402
from .stats import few_seeds_warning  # noqa: E402


def is_multilabel(config):
    """Whether the compared recipe is multi-label (`Global.use_multilabel`)."""
    return bool((config.get("Global") or {}).get("use_multilabel"))


SET_PER_RUN = ("Global.output_dir", "Global.seed")  # compare sets these itself


def parser():
    from ..args import tool_parser

    parser = tool_parser(
        "tools/compare.py",
        "Does R-Drop help on my data? Train the R-Drop recipe (-c, -o as tools/train.py takes them) and its "
        "baseline twin over paired seeds, evaluate each run's final weights (top-1, NLL, ECE; balanced accuracy in "
        f"top-1's place when the evaluation list's largest class has more than {RATIO}x the images of its smallest; "
        "multi-label: mAP, mA, mean BCE, per-label ECE), and report the "
        "paired differences with 95 % intervals. Arms:\n  "
        + "\n  ".join(f"{name}: {text}" for name, text in ARMS.items())
        + "\nA Global.pretrained_model with {seed} in it gives each seed its own start weights.",
        profiler=False,
    )
    parser.add_argument("--seeds", type=int, default=3, help="the number of paired seeds, at least 2 (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, help="the seeds are S..S+N-1 (default 0)")
    parser.add_argument(
        "--arms", default=",".join(DEFAULT_ARMS), help=f"comma-separated arms (default {','.join(DEFAULT_ARMS)})"
    )
    parser.add_argument("--test-list", help="evaluate on this list file instead of DataLoader.Eval's (val) list")
    parser.add_argument("--test-root", help="the test list's image_root (default: DataLoader.Eval's)")
    parser.add_argument(
        "--out",
        help="the comparison's folder (default output/compare/<config name>): a new or empty folder, or one of a "
        "comparison (the same command again resumes it); any other is refused",
    )
    parser.add_argument(
        "--out-shared",
        action="append",
        default=[],
        metavar="NAME",
        help="a file of yours at --out's top level that compare accepts there and never writes (a study's records "
        "beside its comparison); may be given several times",
    )
    parser.add_argument(
        "--corruptions",
        action="store_true",
        help="also evaluate every run on corrupted copies of the evaluation list (ImageNet-C's corruptions at "
        "severities 1-5, made once into OUT/corruptions) and report robustness: top-1, ECE, mCE",
    )
    parser.add_argument("--report", action="store_true", help="only the report, from the results file")
    parser.add_argument(
        "--keep-weights",
        nargs="?",
        const="all",
        choices=("best", "all"),
        help="keep the checkpoints of every run (--keep-weights), or of the best run by the verdict's accuracy "
        "(--keep-weights best); by default a run's checkpoints are deleted once its results are recorded",
    )
    return parser


def parse(argv=None):
    from ..args import parse_tool_args

    args = parse_tool_args(parser(), argv)
    if args.seeds < 2:
        raise ConfigError(f"--seeds {args.seeds}: the intervals need at least 2 paired seeds (3 or more is better)")
    if few_seeds_warning(args.seeds) and not args.report:
        print(few_seeds_warning(args.seeds), file=sys.stderr, flush=True)
    args.arms = parse_arms(args.arms)
    if args.test_list and not os.path.isfile(args.test_list):
        raise ConfigError(f"--test-list {args.test_list}: no such file (relative paths are to {os.getcwd()})")
    args.out = args.out or os.path.join("output", "compare", os.path.splitext(os.path.basename(args.config))[0])
    return args


def eval_config(config, test_list, test_root):
    """The evaluation config of an arm: its config with Metric.Eval TopkAcc top-1 + Calibration (multi-label,
    `Global.use_multilabel`: LabelCalibration, whose scores give mAP, mA, BCE and the per-label ECE), on
    `test_list` (under `test_root`) when given."""
    config = plain(config)
    metrics = [{"TopkAcc": {"topk": [1]}}, {"Calibration": {"bins": 15}}]
    if is_multilabel(config):
        metrics = [{"LabelCalibration": {"bins": 15}}]
    config["Metric"] = {**(config.get("Metric") or {}), "Eval": metrics}
    if test_list:
        dataset = config["DataLoader"]["Eval"]["dataset"]
        dataset["cls_label_path"] = os.path.abspath(test_list)
        if test_root:
            dataset["image_root"] = os.path.abspath(test_root)
    return config


def evaluated_list(config, args):
    """(image_root, list file, delimiter, multilabel) of the list the runs are evaluated on."""
    from ..data.lists import dataset_lists

    found = dataset_lists(eval_config(config, args.test_list, args.test_root), ["Eval"])
    if not found:
        raise ConfigError("--corruptions copies an ImageNetDataset or MultiLabelDataset list: DataLoader.Eval has none")
    return found[0]


def make_copies_for(args, config, key=None):
    """The corrupted copies of the evaluated list in `args.out/corruptions`, made or reused
    (`corrupted_eval.copies_of`; `key`: the list's `source_key`, where computed already); the folder."""
    from ..corrupted_eval import copies_of

    folder = os.path.abspath(os.path.join(args.out, "corruptions"))
    named = f"--out {args.out}: its copies folder"  # --out's folder, not eval.py's --corruptions one
    copies_of(eval_config(config, args.test_list, args.test_root), folder, key=key, named=named)
    return folder


def write_configs(args, config):
    """Each arm's train and eval YAML under `args.out/configs`, once `out` is a folder compare may write in
    (`out_folder.check_out`, with `args.out_shared`), the list the runs are evaluated on fits the config
    (`eval_list.check_evaluated_list`) and its recorded setup agrees (`runs.check_setup`);
    {arm: {"train", "eval", "runs"}}."""
    from ...adapter.settings import RDropSettings

    check_out(args.out, getattr(args, "out_shared", ()))
    texts = {}
    for arm, arm_config in arm_configs(config, args.arms, args.config).items():
        try:
            RDropSettings.from_config(arm_config)  # an arm's own R-Drop mistake, before any run
        except ConfigError as error:
            raise ConfigError(f"--arms {arm}: {error}") from None
        texts[arm] = {
            "train": yaml.safe_dump(plain(arm_config), sort_keys=False),
            "eval": yaml.safe_dump(eval_config(arm_config, args.test_list, args.test_root), sort_keys=False),
        }
    check_evaluated_list(eval_config(config, args.test_list, args.test_root), args.test_list, args.test_root)
    eval_list = os.path.abspath(args.test_list) if args.test_list else "DataLoader.Eval"
    setup = {"configs": {arm: text["train"] for arm, text in texts.items()}, "eval_list": eval_list}
    if args.corruptions:  # the copies' key: another list or other images is another setup
        setup["corruptions"] = source_key(*evaluated_list(config, args), backend=decode_backend(config))
    check_setup(args.out, setup, record=False)
    copies = make_copies_for(args, config, setup.get("corruptions")) if args.corruptions else None  # before writing
    check_setup(args.out, setup)
    folder = os.path.join(args.out, "configs")
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for arm, kinds in texts.items():
        start = (config.get("Global") or {}).get("pretrained_model")
        paths[arm] = {
            "multilabel": is_multilabel(config),
            "runs": os.path.abspath(os.path.join(args.out, "runs")),
            "start": start if isinstance(start, str) and "{seed}" in start else None,
            "corruptions": copies,
        }
        for kind, text in kinds.items():
            paths[arm][kind] = os.path.abspath(os.path.join(folder, f"{arm}.{kind}.yaml"))
            write_text(paths[arm][kind], text)
    return paths


def load(args):
    """The recipe with its -o overrides, parsed as the tools parse it, its paths expanded (`paths.resolve_paths`;
    the weights are checked by each run's train.py: a `{seed}` in Global.pretrained_model is filled in there)."""
    from paddleclas.ppcls.utils import config as config_module

    from ..run_config import config_of, read_checked

    yaml_config = read_checked(args.config, args.override)
    for override in args.override:
        key = override.split("=", 1)[0]
        if key in SET_PER_RUN:
            print(f"[compare] -o {key} is not used: compare gives each run its own {key.split('.')[1]}", flush=True)
    return config_of(config_module, yaml_config, args.override, check_weights=False)


def publish(rows, args):
    """report.md, report.png (and robustness.png) in `args.out` from the results `rows`, and the verdicts printed;
    `args` needs `config`, `out` and `test_list` (a study's report passes its own)."""
    title = f"R-Drop on {args.config}: {', '.join(sorted({r['arm'] for r in rows}))}, evaluated on " + (
        args.test_list or "the val list (DataLoader.Eval)"
    )
    lines = report_lines(rows, title) + robustness.report_lines(rows)
    path = os.path.join(args.out, "report.md")
    write_text(path, "\n".join(lines) + "\n")
    plot(rows, os.path.join(args.out, "report.png"))
    verdicts, plots = verdict_lines(rows), [os.path.join(args.out, "report.png")]
    if robustness.robust_rows(rows):
        plots.append(os.path.join(args.out, "robustness.png"))
        robustness.plot(rows, plots[-1])
        verdicts += robustness.verdict_lines(robustness.robust_rows(rows))
    note = balance_line(rows)
    print("\n".join(["", *([note] if note else []), *verdicts, "", f"report: {path} and {' and '.join(plots)}"]))


def main(tools_dir, argv=None):
    """Entry point of `tools/compare.py` (`tools_dir`: where train.py and eval.py are); a mistake or a
    failed run ends in one `error:` line and exit code 1; results already written stay. A stop (Ctrl-C, or SIGTERM as
    `end_interrupts_in_one_line` raises it in tools/compare.py) stops compare and its running tool alike."""
    args = None
    try:
        args = parse(argv)
        if not args.report:
            config = load(args)
            with lock(args.out, exclusive=True, say=lambda line: print(f"[compare] {line}", flush=True)):
                paths = write_configs(args, config)
                epochs = int(config["Global"]["epochs"])
                seeds = range(args.first_seed, args.first_seed + args.seeds)
                run_all(args.arms, seeds, args.out, paths, tools_dir, epochs, keep=args.keep_weights)
        if args.report:
            check_out(args.out, args.out_shared)  # the report is written there too
        rows = read_results(args.out)
        if not rows:
            raise ConfigError(f"--report: {args.out} has no results yet: run the comparison first")
        publish(rows, args)
        if args.keep_weights == "best" and not args.report:
            print(f"weights kept: {best_run(rows)['folder']} (the best run; the others' were deleted)")
    except TrainingStopped as stop:  # while the corrupted copies were made
        print(stop.line, file=sys.stderr, flush=True)
        sys.exit(128 + signal.Signals[stop.signal_name].value)
    except RDropError as error:
        sys.exit(f"error: {error}")
    except OSError as error:  # a disk full, a folder gone or read-only: where, and what the results hold
        where = f"{error.filename}: " if error.filename else ""
        sys.exit(f"error: {where}{error.strerror or error}; the finished runs stay in --out's results.jsonl")
    except Stopped as stop:
        end_stopped(f"stopped while waiting for another compare.py on {args.out}; nothing ran", stop.args[0])
    except KeyboardInterrupt as stop:
        if args is None:  # while the arguments were read: nothing ran (`interrupts` says so)
            raise
        results = os.path.join(args.out, "results.jsonl")
        line = f"stopped: the finished runs are in {results}; the same command resumes from them"
        end_stopped(line, stop_signal(stop))


def end_stopped(line, signal_name):
    """`line` on stderr, then exit code 128 + the signal (`signal_name`) that stopped compare."""
    print(line, file=sys.stderr, flush=True)
    sys.exit(128 + signal.Signals[signal_name].value)
