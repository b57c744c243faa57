"""PaddleClas's datasets replace a sample that fails to load or transform by a random other one, without a
bound (`CommonDataset.__getitem__` and its relatives in `ppcls/data/dataloader/`). When every sample fails (a
transform that fails on every image, such as PaddleClas's `Cutout` at its default `fill_value`), the retries
recurse until a RecursionError, and in Paddle's single-process loader that error ends the reader thread
while the main thread waits for ever on its queue (`paddle/io/dataloader/dataloader_iter.py`, `_thread_loop`).

`bound_retries(engine)` gives the Engine's datasets a bound: `RETRIES` failures in a row raise one
`SamplesFailed` line naming the split, the last image and its error. It ends in a loader thread of the
main process (the single-process loader's reader, whose queue is stopped first as Paddle's loader stops it on
its own errors; or the multi-process loader's, which re-raises a worker's error), so the Engine's `train` and
`eval` take it from that thread (`threading.excepthook`, for their duration) and raise it in its place of
the loader's own error."""

import functools
import sys
import threading

from ..adapter.patch import patched
from ..core.errors import DataError, one_line

# Failures in a row. PaddleClas's own retries end at Python's recursion limit (about 480 in a row), so a list
# that trains there trains here too, short of a chance of 0.9 ** 200 per image with 90 % of its images broken.
RETRIES = 200


class SamplesFailed(DataError):
    """`RETRIES` samples in a row failed in PaddleClas's dataset of one split."""


def bound_retries(engine):
    """Bound the retries of the datasets of `engine` (PaddleClas's Engine: its `train_dataloader` and
    `eval_dataloader`), and end its `train` and `eval` with the `SamplesFailed` of a loader thread."""
    for split, attribute in (("Train", "train_dataloader"), ("Eval", "eval_dataloader")):
        dataset = getattr(getattr(engine, attribute, None), "dataset", None)
        if dataset is not None and hasattr(type(dataset), "__getitem__"):
            dataset.__class__ = _bounded(type(dataset), split)
    for method in ("train", "eval"):
        setattr(engine, method, _raising_failed_samples(engine, getattr(engine, method)))


def strict(dataset, split):
    """`dataset` (a PaddleClas dataset of `split`) raising `SamplesFailed` at its first sample that fails, in
    the place of a random other one (a corrupted copy must be the copy it is)."""
    dataset.__class__ = _bounded(type(dataset), split, retries=1, line=_first_line)


def _bounded(cls, split, retries=RETRIES, line=None):
    """A subclass of the dataset class `cls` whose `__getitem__` counts the failures in a row of the calls
    nested in one thread (each retry is a call from the failed one's `except` block), and raises
    `SamplesFailed` with `line(dataset, split, index, error)` (`_line`) past `retries`."""
    tried = threading.local()  # the indices of the calls under way in this thread, the failed ones before the last

    def __getitem__(self, index):
        tried.indices = getattr(tried, "indices", [])
        tried.indices.append(index)
        try:
            if len(tried.indices) > retries:  # the one before this call failed last, with the error being handled
                _stop_reader_queue()
                raise SamplesFailed((line or _line)(self, split, tried.indices[-2], sys.exc_info()[1]))
            return cls.__getitem__(self, index)
        finally:
            tried.indices.pop()

    return type(cls.__name__, (cls,), {"__getitem__": __getitem__, "__module__": cls.__module__})


def _image(dataset, index):
    """The path of the dataset's image `index` (PaddleClas's datasets list them in `images`), or None."""
    images = getattr(dataset, "images", None)
    return images[index] if isinstance(images, list) and index < len(images) else None


def _line(dataset, split, index, error):
    image = f" {_image(dataset, index)}" if _image(dataset, index) is not None else ""
    why = one_line(error) if error is not None else "its error is in the log"
    return (
        f"DataLoader.{split}: {RETRIES} images in a row failed to load or transform in PaddleClas's dataset, which "
        f"would retry without end (the last,{image}: {why}): fix DataLoader.{split}.dataset.transform_ops or "
        "the images"
    )


def _first_line(dataset, split, index, error):
    image = _image(dataset, index) if _image(dataset, index) is not None else f"sample {index}"
    return f"DataLoader.{split}: {image} failed to load or transform ({one_line(error)})"


def _stop_reader_queue():
    """In the reader thread of Paddle's single-process loader, stop the queue the main thread waits on (the
    loader's `_thread_loop` stops it on its own errors, not on the dataset's); elsewhere do nothing."""
    loop = getattr(threading.current_thread(), "_target", None)  # the loader's `_thread_loop`
    stop = getattr(getattr(loop, "__self__", None), "_exit_thread_unexpectedly", None)
    if stop is not None:
        stop()


def _raising_failed_samples(engine, method):
    @functools.wraps(method)
    def run(*args, **kwargs):
        failed, others = [], threading.excepthook

        def hook(args):
            if isinstance(args.exc_value, SamplesFailed):
                failed.append(str(args.exc_value))  # its text: the error would keep the loader's thread alive
            else:
                others(args)

        try:
            with patched(threading, excepthook=hook):
                return method(*args, **kwargs)
        except Exception:
            if not failed:
                raise
        # the last failure (PaddleClas retries an epoch once); from a worker, after the worker's traceback
        line = failed[-1].rstrip().splitlines()[-1].split("SamplesFailed: ", 1)[-1]
        _shut_down_loader(engine)
        raise SamplesFailed(line)

    return run


def _shut_down_loader(engine):
    """Shut down the train loader PaddleClas's Engine keeps between epochs (`train_dataloader_iter`) now: at
    the interpreter's exit, a worker it never fed would wait for ever for a thread to start."""
    iterator = engine.__dict__.pop("train_dataloader_iter", None)
    shut_down = getattr(iterator, "_try_shutdown_all", None)
    if shut_down is not None:
        shut_down()
