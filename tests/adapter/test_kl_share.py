"""The KL-share watch of the train hook: one line per epoch, one warning when R-Drop barely acts."""

import paddle


def test_a_kl_term_below_one_percent_for_a_whole_epoch_warns_once(caplog):
    import logging

    from paddleclas_rdrop.adapter.train_hook import KLShare

    logger = logging.getLogger("ppcls")
    logger.addHandler(caplog.handler)  # PaddleClas's logger does not propagate
    share = KLShare(fixes=lambda: ("Arch.drop_path_rate", "RDrop.head_dropout"))  # a ConvNeXt's (randomness_fixes)
    for kl in (0.001, 0.002):
        share.add(
            {"CELoss": paddle.to_tensor(1.0), "RDropLoss": paddle.to_tensor(kl), "loss": paddle.to_tensor(1.0 + kl)}
        )
    try:
        with caplog.at_level("INFO", logger="ppcls"):
            share.log_epoch(1)
            share.add({"RDropLoss": paddle.to_tensor(0.5), "loss": paddle.to_tensor(2.0)})
            share.log_epoch(2)
            share.add({"RDropLoss": paddle.to_tensor(0.001), "loss": paddle.to_tensor(2.0)})
            share.log_epoch(3)
    finally:
        logger.removeHandler(caplog.handler)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "epoch 1" in warnings[0]
    assert "raise Arch.drop_path_rate or RDrop.head_dropout" in warnings[0] and "RDropLoss" in warnings[0]
    assert "[Train][Epoch 2][R-Drop] alpha x KL is 25.00% of the training loss" in caplog.text
