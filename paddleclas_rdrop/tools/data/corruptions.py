"""The 15 common corruptions of ImageNet-C (Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations", ICLR 2019) in their four families, at severities 1-5, made by the
`imagecorruptions` package (the authors' parameters, in pixels: at 28-32 px a blur is stronger against the image
than at ImageNet's 224 px), on an image decoded as the engines decode it (`read_image`). The folder of copies
an evaluation reads is `corrupted_copies`'.

`imagecorruptions.corrupt` refuses images under 32 px; its corruption functions are called directly, so 28 px
images are corrupted too. imagecorruptions 1.1.2 passes scikit-image's `gaussian(multichannel=True)`, which
scikit-image 0.21 removed for `channel_axis=-1` (the same filter): the call is given the new argument
(`gaussian`), so glass_blur runs.
"""

import contextlib
import functools
import io
import warnings

import numpy as np
from PIL import Image

from ...adapter.patch import patched
from ...core.errors import ConfigError, DataError
from .lists import decode

FAMILIES = {  # ImageNet-C's 15 corruptions by family (imagecorruptions.get_corruption_names(family))
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
CORRUPTIONS = tuple(name for names in FAMILIES.values() for name in names)
FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
SEVERITIES = (1, 2, 3, 4, 5)


def library_versions():
    """ "imagecorruptions X, scikit-image Y": the code the pixels come from."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"imagecorruptions {version('imagecorruptions')}, scikit-image {version('scikit-image')}"
    except PackageNotFoundError:
        raise ConfigError(
            "--corruptions needs the imagecorruptions package: pip install -c constraints.txt -e '.[cpu]' "
            "(or pip install imagecorruptions)"
        ) from None


def decode_backend(config):
    """How DataLoader.Eval decodes its images: "pil" where its DecodeImage says `backend: pil` (PaddleClas's
    DecodeImage, a source tree's Engine), else "cv2" (`cv2.imdecode`, both engines' default)."""
    dataset = ((config.get("DataLoader") or {}).get("Eval") or {}).get("dataset") or {}
    for entry in dataset.get("transform_ops") or []:
        if isinstance(entry, dict) and isinstance(entry.get("DecodeImage"), dict):
            return "pil" if str(entry["DecodeImage"].get("backend", "cv2")).lower() == "pil" else "cv2"
    return "cv2"


def read_image(path, backend="cv2"):
    """(RGB uint8 `[H, W, 3]`, whether its three channels are equal), decoded as PaddleClas's DecodeImage
    decodes it with `backend`: "cv2" (`cv2.imdecode`, which turns a photo by its EXIF orientation and scales a
    16-bit image to 8 bits) or "pil" (`Image.convert("RGB")`), so that a copy is of the image the model sees.
    Raises `DataError` naming `path` where it does not decode."""
    if backend == "pil":
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, ValueError) as error:
            raise DataError(f"image {path} does not decode ({error})") from None
    else:
        bgr = decode(path)
        if bgr is None:
            raise DataError(f"image {path} does not decode (cv2.imdecode, as DecodeImage reads it)")
        pixels = np.ascontiguousarray(bgr[..., ::-1])
    gray = bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all())
    return pixels, gray


def gaussian(image, *args, multichannel=False, **kwargs):
    """`skimage.filters.gaussian` taking the `multichannel` flag of scikit-image < 0.21, as imagecorruptions'
    blurs pass it: `multichannel=True` is `channel_axis=-1` (the last axis is colour, not blurred across)."""
    import skimage.filters

    if multichannel:
        kwargs["channel_axis"] = -1
    return skimage.filters.gaussian(image, *args, **kwargs)


def corrupt(pixels, name, severity, seed):
    """`pixels` (uint8 `[H, W, 3]`) with corruption `name` (of `CORRUPTIONS`) at `severity` (1-5), NumPy's
    global generator seeded with `seed` for the call and put back after (imagecorruptions draws from it), and
    `skimage.util.random_noise`, which draws from a generator of its own, given `rng=seed`.
    Returns uint8 `[H, W, 3]`; raises whatever the corruption raises, and `ValueError` for another shape."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # its own prints, warnings
            warnings.simplefilter("ignore")
            import imagecorruptions.corruptions
            import skimage.util
            from imagecorruptions import corruption_dict

            noise = functools.partial(skimage.util.random_noise, rng=seed)  # impulse_noise's, else unseeded
            with patched(skimage.util, random_noise=noise), patched(imagecorruptions.corruptions, gaussian=gaussian):
                out = np.uint8(corruption_dict[name](Image.fromarray(pixels), severity))
    finally:
        np.random.set_state(state)
    if out.shape != pixels.shape:
        raise ValueError(f"it returned shape {out.shape} for an image of shape {pixels.shape}")
    return out


def image_seed(seed, name, severity, index):
    """The seed of one image's copy: from `seed`, the corruption's place in `CORRUPTIONS`, `severity` and the
    image's line `index`, so no copy depends on the order the others were made in."""
    return int(np.random.SeedSequence([seed, CORRUPTIONS.index(name), severity, index]).generate_state(1)[0])
