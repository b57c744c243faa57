"""Small real data that installs offline: scikit-learn's digits as RGB images."""
import numpy as np
from PIL import Image


def digits_images(size=32, count=None):
    """The 8x8 digits upscaled to `size` x `size` uint8 RGB, with their int labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.images[:count] * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack([
        np.asarray(Image.fromarray(p).resize((size, size), Image.BILINEAR).convert("RGB"))
        for p in pixels])
    return images, digits.target[:count].astype(np.int64)
