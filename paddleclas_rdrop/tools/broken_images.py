"""PaddleClas's engine logs an image it cannot decode by its path, then trains on a random other one:
the tools name that image with its list file and line, as the standalone engine does."""

import logging

from ..core.errors import DataError
from .data.lists import dataset_lists, parse_list_file


class BrokenImageNamer(logging.Filter):
    """PaddleClas's dataset logs an image it cannot decode by its path, then trains on a random other
    one; this filter on the `ppcls` logger adds the list file and line, as the standalone engine names
    a broken image. The lists are scanned only when an image fails: nothing is held or read before."""

    PREFIX = "Exception occured when parse line: "  # PaddleClas's CommonDataset.__getitem__, spelling and all

    def __init__(self, datasets):
        super().__init__()
        self.datasets = datasets  # (image_root, list file, delimiter) of each split

    def filter(self, record):
        message = record.getMessage()
        if message.startswith(self.PREFIX):
            where = self.find(message[len(self.PREFIX) :].split(" with msg: ", 1)[0])
            if where:
                record.msg, record.args = f"{where}: {message}; replace the image or remove its line", ()
        return True

    def find(self, path):
        for image_root, list_path, *form in self.datasets:
            try:
                paths, _, numbers = parse_list_file(image_root, list_path, *form)
            except DataError:  # a log filter must not raise; the start-up check names bad lines
                continue
            if path in paths:
                return f"{list_path}:{numbers[paths.index(path)]}"
        return None


def name_broken_images(config):
    """Put one `BrokenImageNamer` for the config's Train and Eval lists on the `ppcls` logger (the
    dataloader workers, forked later, inherit it)."""
    logger = logging.getLogger("ppcls")
    for old in [f for f in logger.filters if isinstance(f, BrokenImageNamer)]:
        logger.removeFilter(old)
    logger.addFilter(BrokenImageNamer(dataset_lists(config)))
