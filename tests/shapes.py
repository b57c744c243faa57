"""A small synthetic image set with 4 classes: a red circle, a green square, a blue triangle and a dark
yellow cross, each colour jittered, at a random size and place on a random light background (the
own-data test's stand-in for a user's images). The colour tells the classes apart as much as the shape:
the shape alone, in random colours, was not learned from scratch by SE_ResNet50_vd from 15 images per
class in 300 steps (its training loss stayed at chance)."""

import csv
import os

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = ((200, 40, 40), (40, 160, 40), (40, 60, 200), (150, 130, 20))  # RGB, one per shape


def draw(shape, size, rng):
    """One `size` x `size` RGB image of `shape`."""
    background = tuple(int(v) for v in rng.integers(170, 256, 3))
    image = Image.new("RGB", (size, size), background)
    pen = ImageDraw.Draw(image)
    base = COLOURS[SHAPES.index(shape)]
    colour = tuple(int(min(255, max(0, v + rng.integers(-30, 31)))) for v in base)
    side = int(rng.integers(size * 4 // 10, size * 7 // 10))
    x0, y0 = (int(v) for v in rng.integers(1, size - side - 1, 2))
    box = (x0, y0, x0 + side, y0 + side)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(x0 + side // 2, y0), (x0, y0 + side), (x0 + side, y0 + side)], fill=colour)
    else:
        width = max(2, side // 4)
        middle = side // 2
        pen.rectangle((x0 + middle - width // 2, y0, x0 + middle + width // 2, y0 + side), fill=colour)
        pen.rectangle((x0, y0 + middle - width // 2, x0 + side, y0 + middle + width // 2), fill=colour)
    return image


def write_shapes(folder, per_class=20, size=32, seed=0):
    """`per_class` images of each shape as `folder/<shape>_<n>.png` and `folder/labels.csv` (columns
    `image`, `label`; the label is the shape's name). Returns the CSV's path."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for index in range(per_class):
        for shape in SHAPES:
            name = f"{shape}_{index:03d}.png"
            draw(shape, size, rng).save(os.path.join(folder, name))
            rows.append((name, shape))
    path = os.path.join(folder, "labels.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label"])
        writer.writerows(rows)
    return path
