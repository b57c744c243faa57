import numpy as np
import paddle
import pytest

from paddleclas_rdrop.data.demo import digits_images

paddle.set_device("cpu")


@pytest.fixture(scope="session")
def digits():
    """24 digits at 32x32, normalised NCHW float32, with int64 labels [B, 1]."""
    images, labels = digits_images(size=32, count=24)
    x = (images.astype(np.float32) / 255.0 - 0.5) / 0.5
    return paddle.to_tensor(x.transpose(0, 3, 1, 2)), paddle.to_tensor(labels[:, None])
