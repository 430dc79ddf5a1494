"""Small image datasets the tests make on disk, the same bytes for the same seed, each learnable in
a few optimiser steps: no dataset but FashionMNIST can be had on these machines, and an author's
data comes in other shapes.

- colour_folder(root): 4 classes of 32 × 32 colour pictures, `train/<class>/*.png` and
  `test/<class>/*.png` (torchvision's ImageFolder conventions), a red or blue square or disc on a
  varied, noisy background: neither the colour nor the form alone tells the class.
- gray_folder(root): 3 classes of 20 × 36 grayscale pictures (taller than wide is rows × columns:
  20 rows, 36 columns), light strokes on black, as in MNIST: a dash, a bar or a cross.
- tests/models/own_data.py's Stripes: an author's dataset class, made in memory.

read_folder(root, split) reads a folder dataset back with Pillow alone, in ImageFolder's order
(classes sorted by name, files sorted within a class): the tests' oracle for what a split holds.

    .venv/bin/python tests/datasets.py /tmp/shapes /tmp/strokes    # to look at them
    .venv/bin/python tests/datasets.py photos --train 1000 --test 250   # the colour one, larger (README)
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOUR_CLASSES = ["blue-disc", "blue-square", "red-disc", "red-square"]
GRAY_CLASSES = ["bar", "cross", "dash"]
COLOUR_SHAPE, GRAY_SHAPE = (3, 32, 32), (1, 20, 36)   # (channels, rows, columns)
PER_CLASS = {"train": 60, "test": 15}                 # colour: 240 train, 60 test images by default
GRAY_PER_CLASS = {"train": 80, "test": 20}            # gray: 240 train, 60 test images
SUPERSAMPLE = 4  # shapes are drawn this much larger and scaled down, for smooth edges


def colour_folder(root, seed=0, per_class=PER_CLASS):
    """Write the colour dataset under `root` (train/ and test/), `per_class` images of each class in
    each split, and return `root`."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for name in COLOUR_CLASSES:
            colour, form = name.split("-")
            for n in range(count):
                _save(_coloured_shape(rng, colour, form), root / split / name / f"{n:03d}.png")
    return root


def gray_folder(root, seed=1):
    """Write the grayscale dataset under `root` (train/ and test/) and return `root`."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, count in GRAY_PER_CLASS.items():
        for name in GRAY_CLASSES:
            for n in range(count):
                _save(_stroke(rng, name), root / split / name / f"{n:03d}.png")
    return root


def read_folder(root, split):
    """(uint8 images (N, C, H, W), int64 labels (N,), class names) of a folder dataset's split, read
    with Pillow in ImageFolder's order; C is 1 for grayscale files, 3 for colour ones."""
    folder = Path(root) / split
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("L" if image.mode == "L" else "RGB"))
            images.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64), classes


def _coloured_shape(rng, colour, form, size=32):
    """A red or blue square or disc, 9 to 16 pixels across, anywhere it fits, on a background of a
    random dull colour that grows lighter across the picture in a random direction, with noise: a
    photograph's background, neither plain nor dark."""
    big = size * SUPERSAMPLE
    angle, light = rng.uniform(0, 2 * np.pi), rng.uniform(45, 80)
    rows, cols = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    ramp = (rows * np.sin(angle) + cols * np.cos(angle))[..., None] * light
    background = np.clip(rng.uniform(80, 170, 3) + ramp, 0, 255).astype(np.uint8)
    image = Image.fromarray(background, "RGB").resize((big, big), Image.Resampling.NEAREST)
    side = rng.uniform(9, 16) * SUPERSAMPLE
    left, top = rng.uniform(1, size - 1 - side / SUPERSAMPLE, 2) * SUPERSAMPLE
    ink = (rng.integers(180, 250), rng.integers(0, 70), rng.integers(0, 70))  # red
    if colour == "blue":
        ink = (ink[1], ink[2], ink[0])
    box = (left, top, left + side, top + side)
    draw = ImageDraw.Draw(image)
    (draw.rectangle if form == "square" else draw.ellipse)(box, fill=tuple(int(v) for v in ink))
    pixels = np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float64)
    return Image.fromarray(np.clip(pixels + rng.normal(0, 8, pixels.shape), 0, 255).round().astype(np.uint8), "RGB")


def _stroke(rng, name, shape=GRAY_SHAPE[1:]):
    """A light dash (across), bar (down) or cross (both) on black, of varied length, width,
    brightness and place."""
    height, width = shape
    image = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(image)
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    thick, ink = rng.uniform(1.5, 3.5), int(rng.integers(170, 256))
    across, down = rng.uniform(0.25, 0.4) * width, rng.uniform(0.3, 0.45) * height
    s = SUPERSAMPLE
    if name in ("dash", "cross"):
        draw.rectangle(((cx - across) * s, (cy - thick / 2) * s, (cx + across) * s, (cy + thick / 2) * s), fill=ink)
    if name in ("bar", "cross"):
        draw.rectangle(((cx - thick / 2) * s, (cy - down) * s, (cx + thick / 2) * s, (cy + down) * s), fill=ink)
    return image.resize((width, height), Image.Resampling.BOX)


def _save(image, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="write the test datasets: the colour one, and the gray one if named")
    parser.add_argument("colour")
    parser.add_argument("gray", nargs="?")
    parser.add_argument("--train", type=int, default=PER_CLASS["train"], help="colour images per class for training")
    parser.add_argument("--test", type=int, default=PER_CLASS["test"], help="colour images per class for testing")
    args = parser.parse_args()
    colour_folder(args.colour, per_class=dict(train=args.train, test=args.test))
    if args.gray:
        gray_folder(args.gray)
