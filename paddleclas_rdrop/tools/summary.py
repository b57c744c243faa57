"""The few lines the demo ends with: the training run's best model line (`runs.summary.best_lines`), where
the export is, and one prediction from the export beside its true label (from the val list)."""

import os

from .predict import export_predictor, infer_images, read_rgb, true_labels
from .runs.summary import best_lines


def summary_lines(config):
    """The demo's end lines for its `config` (trained, exported)."""
    export = config["Global"]["save_inference_dir"]
    lines = best_lines(config)[:1] + [f"export:      {export}/ ({', '.join(sorted(os.listdir(export)))})"]
    path = infer_images(config)[0][0]
    result = export_predictor(config, export).predict([read_rgb(path)])[0]
    name = result["label_names"][0] if result.get("label_names") else result["class_ids"][0]
    lines.append(
        f"prediction:  {path} -> class {result['class_ids'][0]} ({name}) at "
        f"{100 * result['scores'][0]:.1f} %; true label {true_labels(config).get(os.path.normpath(path))}"
    )
    return lines
