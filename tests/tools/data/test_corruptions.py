"""ImageNet-C's corruptions (`paddleclas_rdrop.tools.data.corruptions`): the families as imagecorruptions names
them, and each image decoded as DataLoader.Eval's DecodeImage decodes it."""

import numpy as np
from PIL import Image

from paddleclas_rdrop.tools.data.corruptions import CORRUPTIONS, FAMILIES, decode_backend, read_image
from paddleclas_rdrop.tools.data.lists import decode


def test_the_families_are_imagecorruptions_own():
    from imagecorruptions import get_corruption_names

    assert {family: list(names) for family, names in FAMILIES.items()} == {
        family: get_corruption_names(family) for family in FAMILIES
    }
    assert list(CORRUPTIONS) == get_corruption_names("common")


def test_an_image_is_read_as_decodeimage_reads_it_with_its_backend(tmp_path):
    photo = np.zeros((20, 40, 3), np.uint8)
    photo[:, :20] = 200
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees clockwise when shown
    Image.fromarray(photo).save(tmp_path / "photo.jpg", exif=exif)
    pixels, gray = read_image(str(tmp_path / "photo.jpg"))
    assert np.array_equal(pixels, decode(str(tmp_path / "photo.jpg"))[..., ::-1]) and pixels.shape == (40, 20, 3)
    assert read_image(str(tmp_path / "photo.jpg"), "pil")[0].shape == (20, 40, 3)  # PIL does not turn it
    assert gray  # three equal channels
    ops = [{"DecodeImage": {"to_rgb": True, "backend": "PIL"}}, {"ResizeImage": {"size": 32}}]
    assert decode_backend({"DataLoader": {"Eval": {"dataset": {"transform_ops": ops}}}}) == "pil"
    assert decode_backend({"DataLoader": {"Eval": {"dataset": {"transform_ops": ops[1:]}}}}) == "cv2"
    assert decode_backend({}) == "cv2"
