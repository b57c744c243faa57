"""What the standalone engine's export and inference end with: a softmax over the classes, or, for a
multi-label config (`Global.use_multilabel: True`), a sigmoid per label, as PaddleClas's `ExportModel`
(`ppcls/engine/engine.py`) does; then Infer's PostProcess (the wheel's `build_postprocess`: Topk, or
MultiLabelThreshOutput's labels at or above its threshold)."""

import copy
import os

import numpy as np
import paddle
import paddle.nn as nn
from paddleclas.ppcls.utils import logger

from ...core.loss import logits_of
from ...core.models import unwrap
from ..data.lists import image_files, unreadable_images
from .data import infer_image


def activation_of(config):
    """The output activation of an export of `config`: "sigmoid" with `Global.use_multilabel: True`, else
    "softmax" unless `Arch.infer_add_softmax` is False (then None), as PaddleClas's `ExportModel.__init__`."""
    if (config.get("Global") or {}).get("use_multilabel"):
        return "sigmoid"
    return "softmax" if (config.get("Arch") or {}).get("infer_add_softmax", True) else None


def activate(logits, activation):
    """`logits` ``[B, C]`` through `activation` (`activation_of`): probabilities in [0, 1], or the logits."""
    if activation == "sigmoid":
        return nn.functional.sigmoid(logits)
    if activation == "softmax":
        return nn.functional.softmax(logits, axis=-1)
    return logits


class ExportModel(nn.Layer):
    """The trained network in eval mode, ending in `activation` (`activation_of`), as PaddleClas's
    `ExportModel` (`ppcls/engine/engine.py`): ``[B, C, H, W]`` images -> ``[B, C]`` scores."""

    def __init__(self, base_model, activation="softmax"):
        super().__init__()
        self.base_model = base_model
        self.activation = activation

    def forward(self, x):
        return activate(logits_of(self.base_model(x)), self.activation)


def exported_network(engine):
    """The network `engine` exports and infers with: its model, or the network `Arch.infer_model_name` of a
    `DistillationModel` (PaddleClas's `ExportModel` reads that one network's output)."""
    from ...adapter.distillation import student_of

    net, name = unwrap(engine.model), (engine.config.get("Arch") or {}).get("infer_model_name")
    return student_of(net, name) if name is not None and hasattr(net, "model_name_list") else net


def export_model(engine):
    """`save_inference_dir/inference.{json,pdiparams}` of `engine`'s model (`exported_network`) with its
    activation, as PaddleClas's export; `tools/export.py` adds `inference.yml` for both engines."""
    global_section = engine.config["Global"]
    model = ExportModel(copy.deepcopy(exported_network(engine)), activation_of(engine.config))
    model.eval()
    model = paddle.jit.to_static(
        model,
        input_spec=[paddle.static.InputSpec(shape=[None] + list(global_section["image_shape"]), dtype="float32")],
    )
    save_path = os.path.join(global_section["save_inference_dir"], "inference")
    paddle.jit.save(model, save_path)
    logger.info(f'Export succeeded! The inference model exported has been saved in "{save_path}".')


@paddle.no_grad()
def infer_images(engine):
    """Infer.PostProcess of every image in Infer.infer_imgs, with `engine`'s eager model and a sigmoid per label
    (multi-label) or a softmax. An image that cannot be decoded is named in the log and left out; once the others are
    predicted, `DataError` names how many."""
    infer = engine.config["Infer"]
    paths, skipped = image_files(infer["infer_imgs"])
    for path, why in skipped:
        logger.warning(f"skipped {path}: {why}")
    engine.model.eval()
    network = exported_network(engine)
    results, failed = [], []
    activation = "sigmoid" if activation_of(engine.config) == "sigmoid" else "softmax"  # Topk takes probabilities
    batch_size = infer.get("batch_size", 1)
    for start in range(0, len(paths), batch_size):
        batch, batch_paths = [], []
        for path in paths[start : start + batch_size]:
            image = infer_image(path, engine.preprocess_func)
            (failed if image is None else batch_paths).append(path)
            if image is not None:
                batch.append(image)
        if not batch:
            continue
        with engine.auto_cast(is_eval=True):
            out = network(paddle.to_tensor(np.stack(batch)))
        result = engine.postprocess_func(activate(logits_of(out), activation).numpy(), batch_paths)
        logger.info(result)
        results.extend(result)
    if failed:
        raise unreadable_images(failed, len(paths))
    return results
