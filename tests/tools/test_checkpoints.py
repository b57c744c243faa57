"""Checkpoints are written whole or not at all: a failing save (a full disk, simulated) leaves the
checkpoints before it as they were, leaves no partial file, and says so in one error."""

import errno
import hashlib
import os

import paddle
import pytest
from paddleclas.ppcls.utils import save_load

from paddleclas_rdrop.core.errors import SaveError
from paddleclas_rdrop.tools.runs.checkpoints import whole


def digest(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): hashlib.sha256(
            open(os.path.join(root, name), "rb").read()
        ).hexdigest()
        for root, _, names in os.walk(folder)
        for name in names
    }


def model_and_optimizer():
    net = paddle.nn.Linear(4, 3)
    optimizer = paddle.optimizer.Momentum(0.1, parameters=net.parameters())
    net(paddle.ones([2, 4])).sum().backward()
    optimizer.step()
    return net, [optimizer]


def test_a_save_that_fails_midway_keeps_the_previous_checkpoint_and_leaves_nothing_partial(tmp_path, monkeypatch):
    net, optimizers = model_and_optimizer()
    save = whole(save_load.save_model)
    save(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path), prefix="latest")
    save(net, optimizers, {"metric": 0.6, "epoch": 1}, str(tmp_path), prefix="best_model")
    assert paddle.load(str(tmp_path / "latest.pdstates"))["epoch"] == 1
    assert (tmp_path / "best_model" / "model.pdparams").exists()  # PaddleClas's extra copy of the best
    before = digest(tmp_path)

    real_save = paddle.save

    def disk_full_at_the_optimizer(obj, path, *args, **kwargs):
        if path.endswith(".pdopt"):
            with open(path, "wb") as handle:
                handle.write(b"half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(paddle, "save", disk_full_at_the_optimizer)
    with pytest.raises(SaveError, match="could not be written \\(No space left on device\\); the checkpoints written"):
        save(net, optimizers, {"metric": 0.7, "epoch": 2}, str(tmp_path), prefix="latest")
    assert digest(tmp_path) == before  # nothing replaced, nothing partial left
    state = paddle.load(str(tmp_path / "latest.pdparams"))
    assert sorted(state) == sorted(net.state_dict())
