#!/usr/bin/env bash
# The main job on a fresh machine: R-Drop training of configs/demo_digits.yaml (Res2Net50_vd_26w_4s)
# on the digits demo (written offline from scikit-learn), then eval, export and a summary with one
# prediction from the export, all on CPU. Extra arguments go to every tool, e.g. -o Global.seed=1.
set -euo pipefail
cd "$(dirname "$0")/.."
config=configs/demo_digits.yaml
python tools/prepare_digits.py --out dataset/digits
python tools/train.py -c $config "$@"
python tools/eval.py -c $config -o Global.pretrained_model=output/demo/best_model "$@"
python tools/export_model.py -c $config -o Global.pretrained_model=output/demo/best_model "$@"
python tools/demo_summary.py -c $config "$@"
