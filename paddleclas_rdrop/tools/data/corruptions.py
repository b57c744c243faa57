"""Corrupted copies of an evaluation list: the 15 common corruptions of ImageNet-C (Hendrycks & Dietterich,
"Benchmarking Neural Network Robustness to Common Corruptions and Perturbations", ICLR 2019) in their four
families, at severities 1-5, made by the `imagecorruptions` package (the authors' parameters, in pixels: at
28-32 px a blur is stronger against the image than at ImageNet's 224 px).

The copies are made once, seeded per image, corruption and severity, into a folder: `<name>/<severity>/<n>.png`
(PNG: lossless, so JPEG compression's artefacts stay as made) and one PaddleClas list per corruption and
severity, `<name>/<severity>.txt` (the source list's format and labels; the folder is its image_root), so both
engines evaluate a copy as an ordinary eval list. `manifest.json`, written last, holds the key the copies were
made for (`cache_key`: the list, its images, the seed and the libraries' versions): a call with the same key
reuses them, another key makes them anew.

`imagecorruptions.corrupt` refuses images under 32 px; its corruption functions are called directly, so 28 px
images are corrupted too, and a corruption that fails (raises, or returns another shape) on any image at any
severity is left out whole, with one line saying why. imagecorruptions 1.1.2 passes scikit-image's
`gaussian(multichannel=True)`, which scikit-image 0.21 removed for `channel_axis=-1` (the same filter): the call
is given the new argument (`gaussian`), so glass_blur runs.
"""

import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import time
import warnings

import numpy as np
from PIL import Image

from ...adapter.patch import patched
from ...core.errors import ConfigError, DataError
from .lists import decode, parse_list_file

FAMILIES = {  # ImageNet-C's 15 corruptions by family (imagecorruptions.get_corruption_names(family))
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
CORRUPTIONS = tuple(name for names in FAMILIES.values() for name in names)
FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
SEVERITIES = (1, 2, 3, 4, 5)
MANIFEST = "manifest.json"
FORMAT = 3  # how a copies folder is laid out and made; a change makes the copies anew


def library_versions():
    """ "imagecorruptions X, scikit-image Y": the code the pixels come from (part of `cache_key`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"imagecorruptions {version('imagecorruptions')}, scikit-image {version('scikit-image')}"
    except PackageNotFoundError:
        raise ConfigError(
            "--corruptions needs the imagecorruptions package: pip install -c constraints.txt -e '.[cpu]' "
            "(or pip install imagecorruptions)"
        ) from None


def cache_key(paths, list_path, seed, backend="cv2"):
    """SHA-256 (hex) of the list file's bytes, each listed image's bytes in list order (`paths`), `seed`,
    the decoding `backend`, `FORMAT` and `library_versions()`: the same key, the same copies."""
    digest = hashlib.sha256(f"{FORMAT}\n{seed}\n{backend}\n{library_versions()}\n".encode())
    with open(list_path, "rb") as handle:
        digest.update(handle.read())
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def source_key(image_root, list_path, delimiter=" ", multilabel=False, seed=0, backend="cv2"):
    """The `cache_key` of the copies of a list (read as `make_copies` reads it), without making them."""
    paths, _, _ = parse_list_file(image_root, list_path, delimiter, multilabel)
    return cache_key(paths, list_path, seed, backend)


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
            raise DataError(f"{path}: the image does not decode ({error})") from None
    else:
        bgr = decode(path)
        if bgr is None:
            raise DataError(f"{path}: the image does not decode (cv2.imdecode, as DecodeImage reads it)")
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


def list_line(relative, label, delimiter):
    """A list line for the copy at `relative` with the source's `label` (int, or int targets: multi-label)."""
    text = ",".join(str(int(t)) for t in label) if np.ndim(label) else str(int(label))
    return f"{relative}{delimiter}{text}\n"


def make_corruption(name, paths, labels, delimiter, folder, seed, backend="cv2"):
    """Write `name` at every severity of the images at `paths` (decoded by `backend`, `read_image`) into
    `folder` (each image read once); {severity: list path}. Raises `DataError` for an image that does not
    decode, and what a corruption raises (the caller leaves the corruption out)."""
    lines = {severity: [] for severity in SEVERITIES}
    for severity in SEVERITIES:
        os.makedirs(os.path.join(folder, name, str(severity)))
    for index, (path, label) in enumerate(zip(paths, labels)):
        pixels, gray = read_image(path, backend)
        for severity in SEVERITIES:
            out = corrupt(pixels, name, severity, image_seed(seed, name, severity, index))
            relative = f"{name}/{severity}/{index}.png"
            Image.fromarray(out[..., 0] if gray else out).save(os.path.join(folder, relative), compress_level=1)
            lines[severity].append(list_line(relative, label, delimiter))
    lists = {}
    for severity in SEVERITIES:
        lists[str(severity)] = f"{name}/{severity}.txt"
        with open(os.path.join(folder, lists[str(severity)]), "w", encoding="utf-8") as handle:
            handle.writelines(lines[severity])
    return lists


def read_manifest(folder):
    """The manifest of the copies in `folder`, or None where there are none."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def check_folder(folder):
    """`ConfigError` where `folder` holds files and no copies (no manifest): they are not this tool's to replace."""
    if read_manifest(folder) is None and os.path.isdir(folder) and os.listdir(folder):
        raise ConfigError(f"--corruptions {folder}: the folder holds other files; give a new or empty folder")


def make_copies(image_root, list_path, folder, delimiter=" ", multilabel=False, seed=0, say=print, backend="cv2"):
    """The corrupted copies of the list `list_path` (images under `image_root`; `delimiter`, `multilabel` as
    the dataset reads it, decoded as `backend`: `decode_backend`) in `folder`, made, or reused when its manifest
    has this `cache_key`. Returns the manifest: {"key", "seed", "backend", "library", "source", "images",
    "lists": {name: {severity: list path relative to `folder`}}, "left_out": {name: why}}; `say` gets one line
    per corruption left out and one on what was done. Made whole or not at all (in a temporary folder renamed
    into place). Raises `ConfigError` where `folder` holds other files, `DataError` for a bad list or an image
    that does not decode."""
    paths, labels, _ = parse_list_file(image_root, list_path, delimiter, multilabel)
    key = cache_key(paths, list_path, seed, backend)
    manifest = read_manifest(folder)
    if manifest is not None and manifest["key"] == key:
        made = f"{len(manifest['lists'])} corruptions x 5 severities"
        left_out = "".join(f"; {name} left out: {why}" for name, why in sorted(manifest["left_out"].items()))
        say(f"[corruptions] reused the copies in {folder} ({made}{left_out})")
        return manifest
    check_folder(folder)
    started, partial = time.time(), f"{folder.rstrip(os.sep)}.partial-{os.getpid()}"
    lists, left_out = {}, {}
    try:
        os.makedirs(partial)
        for name in CORRUPTIONS:
            try:
                lists[name] = make_corruption(name, paths, labels, delimiter, partial, seed, backend)
            except DataError:
                raise  # an image, not the corruption
            except Exception as error:  # any failure: the corruption is left out, said in one line
                shutil.rmtree(os.path.join(partial, name), ignore_errors=True)
                left_out[name] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                say(f"[corruptions] {name} left out: {left_out[name]} ({library_versions()})")
        if not lists:
            raise ConfigError(
                f"--corruptions: no corruption ran on the images of {list_path} ({next(iter(left_out.values()))})"
            )
        manifest = {
            "key": key, "seed": seed, "backend": backend, "library": library_versions(),
            "source": os.path.abspath(list_path), "images": len(paths), "lists": lists, "left_out": left_out,
        }  # fmt: skip
        with open(os.path.join(partial, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
        if os.path.isdir(folder):
            shutil.rmtree(folder)  # copies made for another key (its manifest says so)
        os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    say(
        f"[corruptions] made {len(lists)} corruptions x 5 severities of {len(paths)} images in {folder} "
        f"({time.time() - started:.0f} s)"
    )
    return manifest
