"""Resolve the reader's input images: FashionMNIST test images and the author's own.

Every input is an image file in content/inputs/. A FashionMNIST test image
named in the front matter (`- test: 42`) is exported there once, as
`test-00042.png` with its label in the PNG's text chunk, so later builds
need no dataset. Any other PNG, JPEG, WebP or GIF there is the author's own: it is
converted to look like a FashionMNIST image when it does not already.
"""
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from builder import contract
from builder.errors import BuildError

FOLDER = "inputs"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
LABEL_KEY, SOURCE_KEY = "layerwise:label", "layerwise:source"


@dataclass
class Input:
    id: str               # URL-safe, unique: names frames and data files
    path: Path
    pixels: np.ndarray    # uint8 (H, W), 0 = background, as in FashionMNIST
    label: int = None     # the true class, when known
    source: str = ""      # where the image came from, for the reader


def resolve(article, classes, size, problems, data_dir=None):
    """Return the inputs the front matter asks for (or the default set), in order."""
    folder = article.path.parent / FOLDER
    where = (article.path, article.line_of("inputs"))
    if folder.exists() and not folder.is_dir():
        raise BuildError(f"'{FOLDER}' must be a folder of images, not a file; remove the file", folder)
    if article.settings.inputs:
        inputs = [_entry(entry, folder, classes, size, problems, where, data_dir)
                  for entry in article.settings.inputs]
        _warn_unused(folder, inputs, problems)
    else:
        files = _images_in(folder) or _export_first_of_each_class(folder, classes, where, data_dir)
        inputs = [_read(path, classes, size, problems) for path in files]
    _check_unique(inputs, where)
    return inputs


def _entry(entry, folder, classes, size, problems, where, data_dir):
    if isinstance(entry, dict) and set(entry) == {"test"}:
        return _read(_export_test_image(entry["test"], folder, where, data_dir), classes, size, problems)
    if isinstance(entry, str):
        entry = {"file": entry}
    if not isinstance(entry, dict) or "file" not in entry or not set(entry) <= {"file", "label"}:
        raise BuildError(f"inputs: entry {entry!r} must be '- test: N' (a FashionMNIST test image), "
                         "'- file: NAME' (an image in content/inputs/) or '- file: NAME' with 'label: CLASS'",
                         *where)
    path = folder / str(entry["file"])
    if not path.is_file():
        raise BuildError(f"inputs: image '{entry['file']}' not found in {folder}; add the file or fix the name",
                         *where)
    found = _read(path, classes, size, problems)
    if "label" in entry:
        found.label = _class_index(entry["label"], classes, where)
    return found


def _read(path, classes, size, problems):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # too large to open safely: refused
            with Image.open(path) as image:
                image.load()
                text = dict(getattr(image, "text", {}))
                pixels, changes = _as_fashion_mnist(image, size)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise BuildError(f"the image has more than {Image.MAX_IMAGE_PIXELS:,} pixels, more than Pillow opens "
                         "safely; scale it down (an input is shown at "
                         f"{size[1]}×{size[0]} pixels)", path) from None
    except (OSError, SyntaxError) as err:
        raise BuildError(f"cannot read the image ({err}); replace it with a PNG, JPEG, WebP or GIF", path) from None
    if changes:
        problems.warn(contract.text("converted", changes=", ".join(changes)), path)
    label = int(text[LABEL_KEY]) if text.get(LABEL_KEY, "").isdigit() else None
    if label is not None and label >= len(classes):
        label = None
    return Input(_slug(path.stem), path, pixels, label, text.get(SOURCE_KEY) or path.name)


def _as_fashion_mnist(image, size):
    """Return (uint8 pixels of `size`, what had to change), as contract.CONVERSION says: on white,
    grayscale, light object on dark, cropped, scaled to fit and centred. The page's convert.js
    does the same to the reader's own images."""
    height, width = size
    spec, changes = contract.CONVERSION, []
    rgba = image.convert("RGBA")
    if rgba.getextrema()[3][0] < 255:
        changes.append(contract.text("transparent"))
    rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    red, green, blue = (np.asarray(band) for band in rgb.split())
    if (red != green).any() or (green != blue).any():
        changes.append(contract.text("made_gray"))
    gray = rgb.convert("L")  # Pillow's luma: contract.CONVERSION["luma"], in 16-bit fixed point
    pixels = np.asarray(gray)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > spec["invert_above"]:  # FashionMNIST draws a light garment on black
        gray = ImageOps.invert(gray)
        changes.append(contract.text("inverted"))
    if gray.size != (width, height):
        changes.append(contract.text("scaled", width=gray.size[0], height=gray.size[1], size=f"{width}×{height}"))
        box = gray.point(lambda v: 255 if v > spec["crop_above"] else 0).getbbox() or (0, 0, *gray.size)
        gray = _fit(gray.crop(box), (width, height), Image.Resampling[spec["resample"].upper()])
    return np.asarray(gray, dtype=np.uint8).copy(), changes


def _fit(image, size, resample):
    """`image` scaled to fit `size` keeping its proportions (ImageOps.contain's rounding), and
    centred on black. The scaling is two passes, across then down, each with Pillow's filter:
    the order is fixed here, because Pillow may pick either for a single resize and the page
    (convert.js) must do the same."""
    width, height = size
    fitted = ImageOps.contain(Image.new("L", image.size), size).size
    across = image.resize((fitted[0], image.height), resample) if fitted[0] != image.width else image
    scaled = across.resize(fitted, resample) if fitted[1] != image.height else across
    out = Image.new("L", size, 0)
    out.paste(scaled, (round((width - fitted[0]) / 2), round((height - fitted[1]) / 2)))
    return out


def _export_test_image(index, folder, where, data_dir):
    if not isinstance(index, int) or isinstance(index, bool):
        raise BuildError(f"inputs: test image {index!r} must be a whole number, the image's index in "
                         "FashionMNIST's test set", *where)
    path = folder / f"test-{index:05d}.png"
    if path.is_file():
        return path
    images, labels = _test_split(where, data_dir)
    if not 0 <= index < len(labels):
        raise BuildError(f"inputs: test image {index!r} does not exist; FashionMNIST's test images are "
                         f"numbered 0 to {len(labels) - 1}", *where)
    _write_png(path, images[index], int(labels[index]), contract.text("source_test", index=index))
    return path


def _export_first_of_each_class(folder, classes, where, data_dir):
    images, labels = _test_split(where, data_dir)
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(len(classes))]
    for index in firsts:
        _write_png(folder / f"test-{index:05d}.png", images[index], int(labels[index]),
                   contract.text("source_test", index=index))
    return sorted(folder / f"test-{index:05d}.png" for index in firsts)


def _test_split(where, data_dir):
    from model import data
    try:
        split = data.load("test", data_dir)
    except data.DataNotFound as err:
        raise BuildError(f"the chosen inputs must be exported from the dataset once, but {err}", *where) from None
    return split.images.numpy(), split.labels.numpy()


def _write_png(path, pixels, label, source):
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text(LABEL_KEY, str(label))
    info.add_text(SOURCE_KEY, source)
    Image.fromarray(pixels, "L").save(path, pnginfo=info)


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
