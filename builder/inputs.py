"""Resolve the reader's input images: the dataset's test images and the author's own.

Every input is an image file in content/inputs/. A test image of the network's dataset named in
the front matter (`- test: 42`) is exported there once, as `test-00042.png` with its label in the
PNG's text chunk, so later builds need no dataset. Any other PNG, JPEG, WebP or GIF there is the
author's own: it is converted to look like the dataset's images when it does not already, by the
rule the contract publishes (contract.conversion()), as the page converts a reader's upload.
"""
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from builder import contract
from builder.errors import BuildError
from builder.layers import DEFAULT_DATASET

FOLDER = "inputs"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
LABEL_KEY, SOURCE_KEY = "layerwise:label", "layerwise:source"


@dataclass
class Input:
    id: str               # URL-safe, unique: names frames and data files
    path: Path
    pixels: np.ndarray    # uint8 (C, H, W), 0 = black, as the dataset's images
    label: int = None     # the true class, when known
    source: str = ""      # where the image came from, for the reader


def resolve(article, classes, size, problems, data_dir=None, dataset=DEFAULT_DATASET):
    """Return the inputs the front matter asks for (or the default set), in order: `size` is the
    network's (height, width), `dataset` what it was trained on (builder.layers.Description.dataset)."""
    folder = article.path.parent / FOLDER
    where = (article.path, article.line_of("inputs"))
    shape = (dataset["input_shape"][0], *size)
    if folder.exists() and not folder.is_dir():
        raise BuildError(f"'{FOLDER}' must be a folder of images, not a file; remove the file", folder)
    if article.settings.inputs:
        inputs = [_entry(entry, folder, classes, shape, problems, where, data_dir, dataset)
                  for entry in article.settings.inputs]
        _warn_unused(folder, inputs, problems)
    else:
        files = _images_in(folder) or _export_first_of_each_class(folder, classes, where, data_dir, dataset)
        inputs = [_read(path, classes, shape, problems, dataset) for path in files]
    _check_unique(inputs, where)
    return inputs


def _entry(entry, folder, classes, shape, problems, where, data_dir, dataset):
    if isinstance(entry, dict) and set(entry) == {"test"}:
        return _read(_export_test_image(entry["test"], folder, where, data_dir, dataset), classes, shape, problems,
                     dataset)
    if isinstance(entry, str):
        entry = {"file": entry}
    if not isinstance(entry, dict) or "file" not in entry or not set(entry) <= {"file", "label"}:
        raise BuildError(f"inputs: entry {entry!r} must be '- test: N' (a {contract.dataset_name(dataset)} test "
                         "image), '- file: NAME' (an image in content/inputs/) or '- file: NAME' with 'label: CLASS'",
                         *where)
    path = folder / str(entry["file"])
    if not path.is_file():
        raise BuildError(f"inputs: image '{entry['file']}' not found in {folder}; add the file or fix the name",
                         *where)
    found = _read(path, classes, shape, problems, dataset)
    if "label" in entry:
        found.label = _class_index(entry["label"], classes, where)
    return found


def _read(path, classes, shape, problems, dataset):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # too large to open safely: refused
            with Image.open(path) as image:
                image.load()
                text = dict(getattr(image, "text", {}))
                pixels, changes = convert(image, shape, contract.conversion(dataset))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise BuildError(f"the image has more than {Image.MAX_IMAGE_PIXELS:,} pixels, more than Pillow opens "
                         "safely; scale it down (an input is shown at "
                         f"{shape[2]}×{shape[1]} pixels)", path) from None
    except (OSError, SyntaxError) as err:
        raise BuildError(f"cannot read the image ({err}); replace it with a PNG, JPEG, WebP or GIF", path) from None
    if changes:
        said = [contract.text(change, dataset, **fields) for change, fields in changes]
        problems.warn(contract.text("converted", dataset, changes=", ".join(said)), path)
    label = int(text[LABEL_KEY]) if text.get(LABEL_KEY, "").isdigit() else None
    if label is not None and label >= len(classes):
        label = None
    return Input(_slug(path.stem), path, pixels, label, text.get(SOURCE_KEY) or path.name)


def convert(image, shape, rule):
    """(uint8 pixels (C, H, W) of `shape`, what had to change: (text id, its fields) pairs), as the
    contract's conversion `rule` says (contract.conversion()): on white; gray for one channel, kept in
    colour for three; inverted when the rule inverts and the border is light; of another size,
    cropped to its object, fitted and centred on black when the rule crops, else scaled to cover and
    its middle cut out. The page's convert.js does the same to the reader's own images."""
    channels, height, width = shape
    changes = []
    rgba = image.convert("RGBA")
    if rgba.getextrema()[3][0] < 255:
        changes.append(("transparent", {}))
    picture = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    if channels == 1:  # for three, a gray image is the same in each channel
        red, green, blue = (np.asarray(band) for band in picture.split())
        if (red != green).any() or (green != blue).any():
            changes.append(("made_gray", {}))
        picture = picture.convert("L")  # Pillow's luma: the rule's "luma", in 16-bit fixed point
    luma = np.asarray(picture.convert("L"))
    border = np.concatenate([luma[0], luma[-1], luma[:, 0], luma[:, -1]])
    if rule["invert"] and border.mean() > rule["invert_above"]:  # the dataset draws light objects on black
        picture = ImageOps.invert(picture)
        changes.append(("inverted", {}))
    if picture.size != (width, height):
        resample = Image.Resampling[rule["resample"].upper()]
        if rule["crop"]:
            changes.append(("scaled", dict(width=picture.width, height=picture.height, size=f"{width}×{height}")))
            box = picture.convert("L").point(lambda v: 255 if v > rule["crop_above"] else 0).getbbox()
            picture = _fit(picture.crop(box or (0, 0, *picture.size)), (width, height), resample)
        else:
            changes.append(("covered", dict(width=picture.width, height=picture.height, size=f"{width}×{height}")))
            picture = _cover(picture, (width, height), resample)
    pixels = np.asarray(picture, dtype=np.uint8)
    return (pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)).copy(), changes


def _fit(image, size, resample):
    """`image` scaled to fit `size` keeping its proportions (ImageOps.contain's rounding), and
    centred on black."""
    width, height = size
    fitted = ImageOps.contain(Image.new("L", image.size), size).size
    out = Image.new(image.mode, size, 0)
    out.paste(_resize(image, fitted, resample), (round((width - fitted[0]) / 2), round((height - fitted[1]) / 2)))
    return out


def _cover(image, size, resample):
    """`image` scaled to cover `size` keeping its proportions, its middle cut out (torchvision's Resize
    and CenterCrop; sizes and offsets rounded as Python's round())."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    covered = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    left, top = round((covered[0] - width) / 2), round((covered[1] - height) / 2)
    return _resize(image, covered, resample).crop((left, top, left + width, top + height))


def _resize(image, size, resample):
    """Scaled in two passes, across then down, each with Pillow's filter: the order is fixed here,
    because Pillow may pick either for a single resize and the page (convert.js) must do the same."""
    across = image.resize((size[0], image.height), resample) if size[0] != image.width else image
    return across.resize(size, resample) if size[1] != image.height else across


def _export_test_image(index, folder, where, data_dir, dataset):
    name = contract.dataset_name(dataset)
    if not isinstance(index, int) or isinstance(index, bool):
        raise BuildError(f"inputs: test image {index!r} must be a whole number, the image's index in "
                         f"{name}'s test set", *where)
    path = folder / f"test-{index:05d}.png"
    if path.is_file():
        return path
    split = _test_split(where, data_dir, dataset)
    if not 0 <= index < len(split.labels):
        raise BuildError(f"inputs: test image {index!r} does not exist; {name}'s test images are "
                         f"numbered 0 to {len(split.labels) - 1}", *where)
    _export(path, split, index, dataset)
    return path


def _export_first_of_each_class(folder, classes, where, data_dir, dataset):
    split = _test_split(where, data_dir, dataset)
    labels = np.asarray(split.labels)
    firsts = [int(found[0]) for found in (np.flatnonzero(labels == c) for c in range(len(classes))) if len(found)]
    for index in firsts:
        _export(folder / f"test-{index:05d}.png", split, index, dataset)
    return sorted(folder / f"test-{index:05d}.png" for index in firsts)


def _test_split(where, data_dir, dataset):
    from model import data
    try:
        return data.load("test", data_dir, spec=dataset["spec"])
    except (data.DataNotFound, data.BadDataset) as err:
        raise BuildError(f"the chosen inputs must be exported from the dataset once, but {err}", *where) from None


def _export(path, split, index, dataset):
    """Test image `index` of `split` as a PNG with its label and source in its text chunk."""
    pixels = np.asarray(split.images[[index]], dtype=np.uint8).reshape(dataset["input_shape"])
    _write_png(path, pixels, int(split.labels[index]), contract.text("source_test", dataset, index=index))


def _write_png(path, pixels, label, source):
    """uint8 pixels (C, H, W) as a gray (C = 1) or RGB (C = 3) PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text(LABEL_KEY, str(label))
    info.add_text(SOURCE_KEY, source)
    image = Image.fromarray(pixels[0], "L") if len(pixels) == 1 else Image.fromarray(pixels.transpose(1, 2, 0), "RGB")
    image.save(path, pnginfo=info)


def _images_in(folder):
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def _warn_unused(folder, inputs, problems):
    used = {i.path.resolve() for i in inputs}
    for path in _images_in(folder):
        if path.resolve() not in used:
            problems.warn("input image is never shown; list it under 'inputs:' or delete it", path)


def _check_unique(inputs, where):
    seen = {}
    for found in inputs:
        if found.id in seen:
            raise BuildError(f"inputs: '{found.path.name}' and '{seen[found.id].path.name}' both become "
                             f"input '{found.id}'; rename one", *where)
        seen[found.id] = found


def _class_index(name, classes, where):
    if isinstance(name, int) and 0 <= name < len(classes):
        return name
    if name in classes:
        return classes.index(name)
    raise BuildError(f"inputs: label {name!r} is not a class (classes: {', '.join(classes)})", *where)


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "image"
