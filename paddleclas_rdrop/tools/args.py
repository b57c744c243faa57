"""The command-line arguments of the tools: PaddleClas's -c/-o (and -p for the engine tools), with a help
that says what each tool does and which R-Drop keys there are."""

import argparse
import os

MODES = {
    "train": "Train a classifier from a PaddleClas YAML; with Global.train_mode: rdrop, with R-Drop.",
    "eval": "Evaluate Global.pretrained_model on DataLoader.Eval.",
    "export": "Export Global.pretrained_model for PaddleClas's deploy predictor into Global.save_inference_dir "
    "(inference.json, .pdiparams, .yml), whole or not at all.",
    "infer": "Predict Infer.infer_imgs with the trained model (no export needed).",
}


def tool_parser(prog, description, profiler=True):
    """PaddleClas's -c/-o (and, with `profiler`, -p: the engine tools) arguments, with a help that says what
    the tool does (`description`) and, for the engine tools, the R-Drop keys; `-c` is required, and a
    missing or absent config is one line (`parse_tool_args`)."""
    from ..adapter.settings import keys_help

    epilog = None
    if profiler:
        epilog = (
            "R-Drop keys (YAML or -o key=value):\n  "
            + "\n  ".join(keys_help())
            + f"\nexample: python {prog} -c configs/rdrop_res2net.yaml -o Global.device=cpu -o RDrop.drop_path=0.1"
        )
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-c", "--config", help="the YAML config (required)")
    parser.add_argument("-o", "--override", action="append", default=[], help="key=value over the YAML, repeatable")
    if profiler:
        parser.add_argument(
            "-p", "--profiler_options", default=None, help="PaddleClas's profiler options (key1=value1;...)"
        )
    return parser


def parse_tool_args(parser, argv=None):
    """`parser.parse_args(argv)`; `ConfigError` if `-c` is missing or names no file."""
    from ..core.errors import ConfigError

    args = parser.parse_args(argv)
    if not args.config:
        raise ConfigError(f"no config: give the YAML with -c, e.g. {parser.prog} -c configs/rdrop_se_resnet.yaml")
    if not os.path.isfile(args.config):
        raise ConfigError(f"-c {args.config}: no such file")
    return args


def check_numbers(args, rules):
    """The numeric flags of a tool's parsed `args` against `rules`, {flag: (the least value, what it is, an example)}
    (`--size`: (1, "the image side in pixels", 224)); a flag left out (None) passes. `ConfigError` naming the first
    flag below its least value."""
    from ..core.errors import ConfigError

    for flag, (least, what, example) in rules.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None and value < least:
            raise ConfigError(f"{flag} {value}: {what} must be {least} or more, e.g. {flag} {example}")


def parse_args(mode, argv=None):
    """The arguments of the tool of `mode` (of `argv`, default the command line)."""
    from .quiet import import_paddle_quietly

    import_paddle_quietly()
    parser = tool_parser(
        f"tools/{'export_model' if mode == 'export' else mode}.py",
        f"{MODES[mode]} paddleclas-rdrop runs PaddleClas's Engine when PADDLECLAS_ROOT names a "
        f"PaddleClas checkout, else its standalone engine.",
    )
    if mode == "eval":
        parser.add_argument(
            "--corruptions",
            nargs="?",
            const="",
            metavar="FOLDER",
            help="also evaluate on corrupted copies of the eval list (ImageNet-C's corruptions at severities 1-5), "
            "made once into FOLDER (default Global.output_dir/corruptions) and reused",
        )
    return parse_tool_args(parser, argv)
