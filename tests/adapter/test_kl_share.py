"""The KL-share watch of the train hook: one line per epoch, one warning when R-Drop barely acts."""

import logging

import paddle
import pytest

from paddleclas_rdrop.adapter.train_hook import KLShare


@pytest.fixture
def ppcls_log(caplog):
    """caplog on PaddleClas's `ppcls` logger, which does not propagate once PaddleClas has set it up (and
    would be caught twice before)."""
    logger = logging.getLogger("ppcls")
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(caplog.handler)
    with caplog.at_level("INFO", logger="ppcls"):
        yield caplog
    logger.removeHandler(caplog.handler)
    logger.propagate = propagate


def test_a_kl_term_below_one_percent_for_a_whole_epoch_warns_once(ppcls_log):
    share = KLShare(fixes=lambda: ("Arch.drop_path_rate", "RDrop.head_dropout"))  # a ConvNeXt's (randomness_fixes)
    for kl in (0.001, 0.002):
        share.add(
            {"CELoss": paddle.to_tensor(1.0), "RDropLoss": paddle.to_tensor(kl), "loss": paddle.to_tensor(1.0 + kl)}
        )
    share.log_epoch(1)
    share.add({"RDropLoss": paddle.to_tensor(0.5), "loss": paddle.to_tensor(2.0)})
    share.log_epoch(2)
    share.add({"RDropLoss": paddle.to_tensor(0.001), "loss": paddle.to_tensor(2.0)})
    share.log_epoch(3)
    warnings = [r.getMessage() for r in ppcls_log.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "epoch 1" in warnings[0]
    assert "raise Arch.drop_path_rate or RDrop.head_dropout" in warnings[0] and "RDropLoss" in warnings[0]
    assert "[Train][Epoch 2][R-Drop] alpha x KL is 25.00% of the training loss" in ppcls_log.text


def test_a_kl_term_below_the_step_logs_decimals_shows_in_the_epoch_line(ppcls_log):
    share = KLShare()
    share.add({"RDropLoss": paddle.to_tensor(3.2e-9), "loss": paddle.to_tensor(1.0)})  # logged as 0.00000
    share.log_epoch(1)
    assert "[Train][Epoch 1][R-Drop] alpha x KL is 3.2e-07% of the training loss (mean over the" in ppcls_log.text
