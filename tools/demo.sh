#!/usr/bin/env bash
# The main job on a fresh machine: R-Drop training of configs/rdrop_res2net.yaml on the digits
# demo (written offline from scikit-learn), then eval, export and one prediction, all on CPU.
# Usage: bash tools/demo.sh [EPOCHS]   (default 5; about a minute per epoch on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-5}
python tools/prepare_digits.py --out dataset/digits
overrides=$(python -c "from paddleclas_rdrop.data.overrides import dataset_overrides as o
print(' '.join('-o ' + x for x in o('dataset/digits', epochs=$epochs, output_dir='output/demo')))")
config=configs/rdrop_res2net.yaml
# 8x8 digits upscaled to 32 px learn in minutes with a milder crop and without Mixup
python tools/train.py -c $config $overrides -o DataLoader.Train.dataset.batch_transform_ops=None \
    -o DataLoader.Train.dataset.transform_ops.1.RandCropImage.scale=[0.5,1.0]
python tools/eval.py -c $config $overrides -o Global.pretrained_model=output/demo/best_model
python tools/export_model.py -c $config $overrides -o Global.pretrained_model=output/demo/best_model
python tools/predict.py -c $config $overrides
