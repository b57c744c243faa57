"""PaddleClas's Engine from a source tree, built as the tools build it: the model built and checked before
the Engine writes its log, and the Engine's host names patched for the length of a step (`patched`): the
model it builds and the config it prints (`prebuilt`), the images it lists (`listing_images`), the
checkpoints it saves (`whole_checkpoints`)."""

import contextlib
from typing import TYPE_CHECKING

from ..adapter.patch import patched

if TYPE_CHECKING:
    from .runs.checkpoints import Checkpointer


def build_tree_model(config, mode):
    """The model PaddleClas's Engine would build, built as it builds it: seeded from `Global.seed`,
    on `Global.device`, with `Global.class_num` moved to `Arch`, by the tree's `build_model` with
    the tree's logger up (console only: some of its models log while they are built)."""
    import paddle
    from ppcls.arch import build_model
    from ppcls.utils import logger

    from ..adapter.models import build
    from .runs.seeds import seed_all

    settings = config["Global"]
    seed_all(settings.get("seed", False))
    paddle.set_device(settings["device"])
    if "class_num" in settings:
        config["Arch"].setdefault("class_num", settings["class_num"])
    logger.init_logger()
    return build(lambda: build_model(config, mode), config["Arch"].get("name"))


def prebuilt(model, show_config=True):
    """PaddleClas's Engine builds its model with `ppcls.engine.engine.build_model` and logs the whole
    config with `print_config`. While the Engine is constructed in this context, the first returns
    `model`, the one the tools built and checked before the Engine writes its log (one model per run),
    and, unless `show_config`, the second prints nothing. The names are restored on leaving."""
    import ppcls.engine.engine as engine_module

    quiet = {} if show_config else {"print_config": lambda config: None}
    return patched(engine_module, build_model=lambda config, mode="train": model, **quiet)


@contextlib.contextmanager
def listing_images():
    """PaddleClas's `Engine.infer` lists `Infer.infer_imgs` with `ppcls.engine.engine.get_image_list`, which
    matches extensions case-sensitively and skips other files without a word; an image that does not decode
    is logged and its whole batch left out. While it runs in this context, that name is `image_files` (any
    case; every skipped file named in the log; with an `Infer.infer_list`, PaddleClas's own listing), without
    the images that do not decode (`decode`), each named in the log. It yields {"listed": every image listed,
    "undecodable": those left out}; the original is put back on leaving."""
    import logging

    import ppcls.engine.engine as engine_module

    from .data.lists import decode, image_files

    original, found = engine_module.get_image_list, {"listed": [], "undecodable": []}

    def get_image_list(img_file, infer_list=None):
        if infer_list:
            images = original(img_file, infer_list=infer_list)
        else:
            images, skipped = image_files(img_file)
            for path, why in skipped:
                logging.getLogger("ppcls").warning(f"skipped {path}: {why}")
        found["listed"] += images
        good = []
        for path in images:
            if decode(path) is not None:
                good.append(path)
            else:
                logging.getLogger("ppcls").error(f"cannot read image {path} (not an image cv2 can decode): left out")
                found["undecodable"].append(path)
        return good

    with patched(engine_module, get_image_list=get_image_list):
        yield found


@contextlib.contextmanager
def whole_checkpoints(checkpoints: "Checkpointer"):
    """While PaddleClas's Engine trains in this context, `ppcls.utils.save_load.save_model` (the name its
    Engine calls) is the run's `checkpoints` (a `runs.checkpoints.Checkpointer`) `make_whole` of itself, and
    `ppcls.engine.engine.init_model` returns the run's best metric on a resume (`runs.checkpoints.carry_best`);
    the originals are put back on leaving. Waiting for the saves is the Checkpointer's (closing it)."""
    import ppcls.engine.engine as engine_module
    from ppcls.utils import save_load

    from .runs.checkpoints import carry_best

    init_model = engine_module.init_model

    def resumed(global_section, *args, **kwargs):
        return carry_best(init_model(global_section, *args, **kwargs), global_section["checkpoints"])

    with patched(save_load, save_model=checkpoints.make_whole(save_load.save_model)):
        with patched(engine_module, init_model=resumed):
            yield


def tree_engine(config, mode, check, profiler_options=None):
    """PaddleClas's Engine on `config`, its model built and checked (`check(model)`) first."""
    from ppcls.engine.engine import Engine

    from .broken_images import name_broken_images
    from .data.class_map import reading_class_maps
    from .failed_samples import bound_retries
    from .preflight import check_lists, check_warmup_epochs
    from .tree_lists import reading_lists

    check_lists(config, mode)
    if mode == "train":
        check_warmup_epochs(config)
    model = build_tree_model(config, mode)
    check(model)
    name_broken_images(config)
    config.profiler_options = profiler_options  # what PaddleClas's tools/train.py sets from -p
    with prebuilt(model, show_config=mode == "train"), reading_lists(), reading_class_maps():  # one config print
        engine = Engine(config, mode=mode)
    bound_retries(engine)
    return engine
