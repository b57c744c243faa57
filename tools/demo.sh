#!/usr/bin/env bash
# The main job on a fresh machine: R-Drop training of configs/rdrop_res2net.yaml on the digits
# demo (written offline from scikit-learn), then eval, export and one prediction, all on CPU.
# Usage: bash tools/demo.sh [EPOCHS]   (default 3; about a minute per epoch on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-3}
python tools/prepare_digits.py --out dataset/digits
overrides=$(python -c "from paddleclas_rdrop.demo_data import digits_overrides as o
print(' '.join('-o ' + x for x in o('dataset/digits', epochs=$epochs, output_dir='output/demo')))")
config=configs/rdrop_res2net.yaml
python tools/train.py -c $config $overrides
python tools/eval.py -c $config $overrides -o Global.pretrained_model=output/demo/best_model
python tools/export_model.py -c $config $overrides -o Global.pretrained_model=output/demo/best_model
python tools/predict.py -c $config $overrides
