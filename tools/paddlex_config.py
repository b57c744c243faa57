"""A PaddleClas YAML of PaddleX's with R-Drop added, checked, and written for PaddleX's
`-o Train.basic_config_path`; prints the PaddleX train command that uses it."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import argparse
import os
import sys

from paddleclas_rdrop.core.errors import RDropError, naming_paths
from paddleclas_rdrop.core.files import write_text

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="PaddleX's model name, e.g. PP-LCNet_x1_0, ResNet50_vd, PP-HGNetV2-B0")
    source.add_argument("--yaml", help="a PaddleClas YAML to start from instead of PaddleX's for --model")
    parser.add_argument("--paddlex-root", help="PaddleX's source folder (with main.py); needed with --model")
    parser.add_argument("--out", required=True, help="the YAML to write")
    parser.add_argument("--alpha", type=float, default=3.0, help="the RDropLoss weight, per sample (default 3.0)")
    parser.add_argument("--passes", type=int, default=2, help="k, the passes per sample (default 2)")
    parser.add_argument(
        "--head-dropout", type=float, help="dropout before the classifier (RDrop.head_dropout; 0.1 with --head-layer)"
    )
    parser.add_argument("--head-layer", help="the classifier layer (default: the model's last Linear)")
    parser.add_argument("--drop-path", type=float, help="drop path rate in the last stage (RDrop.drop_path)")
    parser.add_argument("--device", default="cpu", help="PaddleX's Global.device in the printed command (cpu, gpu:0)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    args = parser.parse_args()

    from paddleclas_rdrop.tools.quiet import import_paddle_quietly

    try:
        import_paddle_quietly()
        import yaml

        from paddleclas_rdrop.tools import paddlex
        from paddleclas_rdrop.tools.data.config_file import read_config

        if args.model and not args.paddlex_root:
            raise paddlex.ConfigError("--model needs --paddlex-root, the folder of PaddleX's source with main.py")
        if os.path.exists(args.out) and not args.force:
            raise paddlex.ConfigError(f"--out {args.out} exists: give another path, or --force to overwrite it")
        path = paddlex.paddlex_yaml(args.paddlex_root, args.model) if args.model else args.yaml
        if not os.path.isfile(path):
            raise paddlex.ConfigError(f"--yaml {path}: no such file")
        config = read_config(path)
        layers = paddlex.chosen_layers(args.head_dropout, args.head_layer, args.drop_path)
        config, _ = paddlex.rdrop_config(config, args.alpha, args.passes, layers)
    except RDropError as error:
        sys.exit(f"error: {error}")
    with naming_paths({"--out": args.out}):  # its missing folders are made; an impossible path is one line
        write_text(args.out, yaml.safe_dump(config, sort_keys=False))
    print(f"wrote {args.out}: {path} with R-Drop (k {args.passes}, alpha {args.alpha}; RDrop: {config['RDrop']})")
    if args.model:
        print(
            "train it with PaddleX:\n  " + paddlex.train_command(args.paddlex_root, args.model, args.out, args.device)
        )
