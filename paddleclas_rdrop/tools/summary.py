"""The few lines a finished run ends with: the best model's val top-1, where the checkpoint and the
export are, and one prediction from the export beside its true label (from the val list)."""

import os

from .predict import export_predictor, infer_images, read_rgb, true_labels


def summary_lines(config):
    import paddle

    global_section = config["Global"]
    best = os.path.join(global_section["output_dir"], "best_model")
    state = paddle.load(best + ".pdstates")
    export = global_section["save_inference_dir"]
    lines = [
        f"best model:  {best}.pdparams (val top-1 {100 * state['metric']:.1f} % at epoch {state['epoch']})",
        f"export:      {export}/ ({', '.join(sorted(os.listdir(export)))})",
    ]
    path = infer_images(config)[0][0]
    result = export_predictor(config, export).predict([read_rgb(path)])[0]
    name = result["label_names"][0] if result.get("label_names") else result["class_ids"][0]
    lines.append(
        f"prediction:  {path} -> class {result['class_ids'][0]} ({name}) at "
        f"{100 * result['scores'][0]:.1f} %; true label {true_labels(config).get(os.path.normpath(path))}"
    )
    return lines
