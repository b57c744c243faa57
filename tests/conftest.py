import os

# `import paddle` sets OMP_NUM_THREADS=1 in this process when it is unset, and every tool the tests
# start would inherit it: remember whether the user chose, so that engine_runs can leave the choice
# to the tools (their share of the cores) as on a user's machine.
os.environ.setdefault("RDROP_TESTS_USER_THREADS", os.environ.get("OMP_NUM_THREADS", ""))

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import pytest

from paddleclas_rdrop.data.demo import digits_images  # noqa: E402

paddle.set_device("cpu")


@pytest.fixture(scope="session")
def digits():
    """24 digits at 32x32, normalised NCHW float32, with int64 labels [B, 1]."""
    images, labels = digits_images(size=32, count=24)
    x = (images.astype(np.float32) / 255.0 - 0.5) / 0.5
    return paddle.to_tensor(x.transpose(0, 3, 1, 2)), paddle.to_tensor(labels[:, None])


WEIGHT_FILES = (".pdparams", ".pdopt", ".pdiparams")


def pytest_sessionfinish(session):
    """Delete the weights the runs wrote (about 20 GB over the suite), keep their logs: pytest keeps a
    failed session's folders whole, and a few failed sessions fill a disk."""
    factory = getattr(session.config, "_tmp_path_factory", None)  # pytest's tmp_path plugin
    if factory is None:
        return
    for folder, _, files in os.walk(factory.getbasetemp()):
        for name in files:
            if name.endswith(WEIGHT_FILES):
                os.remove(os.path.join(folder, name))
