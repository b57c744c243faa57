"""An export written whole or not at all, on both engines: the engine exports into a folder beside
`Global.save_inference_dir`, the plugin adds PaddleClas's deploy config (`inference.yml`), and only
then are the files moved into place. A run that fails leaves the previous export as it was."""

import copy
import os
import shutil
import tempfile

from ..adapter.sections import section_of
from ..core.errors import ConfigError
from .quiet import PIR_EXPORT_WARNING, dropping_fd_lines
from .runs.log import renaming, rewriting_log

MODEL_FILES = ("inference.json", "inference.pdiparams")  # what a deploy predictor loads; inference.yml beside them


def class_names(config):
    """The label list of `Infer.PostProcess`: the class map's names, or the class ids as names
    when `class_id_map_file` is null (PaddleClas's deploy Topk accepts either as `label_list`)."""
    postprocess = section_of(config, "Infer", "PostProcess")
    if postprocess.get("class_id_map_file"):
        return None
    class_num = section_of(config, "Arch").get("class_num")
    return [str(index) for index in range(int(class_num))] if class_num else None


def write_deploy_config(config, path):
    """PaddleClas's `dump_infer_config` (the wheel's), which needs a class map file: without one,
    a map of class ids to themselves is written beside `path` for it and removed again."""
    from ..adapter.wheel import wheel_module

    dump_infer_config = wheel_module("ppcls.utils.config").dump_infer_config

    names = class_names(config)
    if names is None:
        class_map = config["Infer"]["PostProcess"]["class_id_map_file"]
        if not os.path.exists(class_map):
            raise ConfigError(
                f"Infer.PostProcess.class_id_map_file: {class_map} not found: point it at "
                f"the `<id> <name>` label list, or set it to null to name classes by id"
            )
        return dump_infer_config(config, path)
    config = copy.deepcopy(config)
    id_map = path + ".class_ids.txt"
    with open(id_map, "w") as handle:
        handle.writelines(f"{name} {name}\n" for name in names)
    config["Infer"]["PostProcess"]["class_id_map_file"] = id_map
    try:
        dump_infer_config(config, path)
    finally:
        os.remove(id_map)


def export_whole(engine):
    """Run `engine.export()` into a folder beside `Global.save_inference_dir`, complete it with
    `inference.yml`, then move the files into place (one `os.replace` each)."""
    from .data.class_map import config_class_map

    config_class_map(engine.config)  # a class map PaddleClas's export cannot read is named before anything is written
    global_section = engine.config["Global"]
    final = os.path.abspath(global_section["save_inference_dir"])
    os.makedirs(os.path.dirname(final), exist_ok=True)
    partial = tempfile.mkdtemp(prefix=os.path.basename(final) + ".partial-", dir=os.path.dirname(final))
    global_section["save_inference_dir"] = partial
    try:
        with rewriting_log(renaming(partial, final)):
            with dropping_fd_lines(2, [PIR_EXPORT_WARNING]):
                engine.export()
            if engine.config.get("Infer") and not os.path.exists(os.path.join(partial, "inference.yml")):
                write_deploy_config(engine.config, os.path.join(partial, "inference.yml"))
        os.makedirs(final, exist_ok=True)
        written = sorted(os.listdir(partial))
        for name in written:
            os.replace(os.path.join(partial, name), os.path.join(final, name))
    finally:
        global_section["save_inference_dir"] = final
        shutil.rmtree(partial, ignore_errors=True)
    print(f"paddleclas-rdrop: export complete in {final} ({', '.join(written)})", flush=True)
