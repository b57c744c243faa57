#!/usr/bin/env bash
# The main job on a fresh machine: R-Drop training of configs/demo_digits.yaml (Res2Net50_vd_26w_4s)
# on the digits demo (written offline from scikit-learn), then eval, export and a summary with one
# prediction from the export, all on CPU. Extra arguments go to every tool, e.g. -o Global.seed=1; the
# steps after training read the run's folder, -o Global.output_dir=<folder> where one is given (the last
# one), and export into <folder>/inference unless -o Global.save_inference_dir says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
config=configs/demo_digits.yaml
out=./output/demo  # the config's Global.output_dir
for arg in "$@"; do
    case $arg in
        Global.output_dir=* | -oGlobal.output_dir=*) out=${arg#*Global.output_dir=} ;;
    esac
done
out=${out%/}
python tools/prepare_digits.py --out dataset/digits
python tools/train.py -c $config "$@"
python tools/eval.py -c $config -o "Global.pretrained_model=$out/best_model" "$@"
python tools/export_model.py -c $config -o "Global.pretrained_model=$out/best_model" \
    -o "Global.save_inference_dir=$out/inference" "$@"
python tools/demo_summary.py -c $config -o "Global.save_inference_dir=$out/inference" "$@"
