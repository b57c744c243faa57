"""Gradient accumulation's steps per epoch (`Global.update_freq`), as PaddleClas's Engine counts them
(`ppcls/engine/engine.py`)."""

from paddleclas.ppcls.utils import logger


def accumulated_steps(batches, update_freq):
    """(steps of an epoch of `batches`: a multiple of `update_freq`, the update_freq that runs). An update_freq
    above `batches` would train nothing: it is set to 1 with a warning, as PaddleClas's Engine sets it."""
    if batches < update_freq:
        logger.warning(
            f"Global.update_freq is {update_freq}, more than the {batches} batches of an epoch: it is set to 1 "
            f"(no gradient accumulation), as PaddleClas's Engine sets it"
        )
        update_freq = 1
    return batches // update_freq * update_freq, update_freq
