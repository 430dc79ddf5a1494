"""One conversion for the author's images and the reader's: the build's (builder/inputs.py, with
Pillow) and the page's (static/upload.js decoding, static/convert.js converting), both following
the contract's `conversion` and the site's rule in it (channels, invert, crop), must give the same
pixels and say the same about what they did, for images of every kind a reader may bring: the
same bytes for lossless files, within one level for lossy ones (the two decoders may differ).

    .venv/bin/python -m pytest tests/test_convert.py
"""
import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from builder import contract as build_contract
from builder.inputs import convert

# Decode bytes in the page and convert them under each of several rules (channels, invert, crop)
# laid over the contract's conversion, with the page's own modules.
CONVERT = """async ([encoded, type, rules]) => {
  const { decode } = await import('./static/upload.js');
  const { convert } = await import('./static/convert.js');
  const contract = await fetch(document.body.dataset.contract).then(response => response.json());
  const bytes = Uint8Array.from(atob(encoded), ch => ch.charCodeAt(0));
  const image = await decode(new File([bytes], 'sample', { type }));
  return rules.map(([[channels, rows, cols], rule]) => {
    const { pixels, changes } = convert(image, [rows, cols], { ...contract.conversion, ...rule, channels });
    return { pixels: Array.from(pixels), changes };
  });
}"""

# The sites' rules: FashionMNIST's (light objects on black, one per image: inverted and cropped) and
# a colour photo dataset's (neither), each at its input's shape (C, H, W).
RULES = {
    "gray-invert-crop": ((1, 28, 28), dict(invert=True, crop=True)),
    "colour-cover": ((3, 24, 32), dict(invert=False, crop=False)),
    "colour-invert-crop": ((3, 20, 36), dict(invert=True, crop=True)),
    "gray-cover": ((1, 36, 20), dict(invert=False, crop=False)),
}


def garment(size=(120, 90), background="white", ink=(150, 30, 40), mode="RGB"):
    """A light-background picture of a dark, shaded shape, not centred, with a gradient."""
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.15, h * 0.2, w * 0.6, h * 0.9), fill=ink)
    darker = ink // 2 if isinstance(ink, int) else tuple(v // 2 for v in ink[:3]) + ink[3:]
    draw.rectangle((w * 0.35, h * 0.1, w * 0.7, h * 0.5), fill=darker)
    for x in range(0, w, 7):
        draw.line((x, h - 3, x + 3, h - 1), fill=ink)
    return image


def encoded(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def transparent():
    image = garment(mode="RGBA", background=(0, 0, 0, 0), ink=(20, 120, 200, 255))
    alpha = np.asarray(image).copy()
    alpha[::3, :, 3] //= 3  # some half-transparent stripes
    return Image.fromarray(alpha, "RGBA")


def photo_like():
    rng = np.random.default_rng(0)
    base = np.asarray(garment((97, 131)), dtype=np.float64)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB")


SAMPLES = {
    "png-colour-light-background": lambda: (encoded(garment(), "PNG"), "image/png"),
    "png-transparent": lambda: (encoded(transparent(), "PNG"), "image/png"),
    "png-grayscale-28": lambda: (encoded(garment((28, 28), background=0, ink=200, mode="L"), "PNG"), "image/png"),
    "png-dark-background-tall": lambda: (encoded(garment((31, 203), background="black", ink=(240, 240, 240)), "PNG"),
                                         "image/png"),
    "png-tiny-upscaled": lambda: (encoded(garment((9, 13)), "PNG"), "image/png"),
    "jpeg-photo": lambda: (encoded(photo_like(), "JPEG", quality=90), "image/jpeg"),
    "webp-lossless": lambda: (encoded(photo_like(), "WEBP", lossless=True), "image/webp"),
    "webp-lossy": lambda: (encoded(photo_like(), "WEBP", quality=80), "image/webp"),
    "gif-palette": lambda: (encoded(garment((64, 80)).convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
                            "image/gif"),
}


LOSSLESS = ("png", "webp-lossless", "gif")


@pytest.mark.parametrize("name", SAMPLES)
def test_page_converts_as_the_build_does(opened, name):
    """Under every rule, the same pixels (the same bytes for lossless files, within one level for
    lossy ones) and the same list of what was done."""
    data, mime = SAMPLES[name]()
    pages = opened.evaluate(CONVERT, [base64.b64encode(data).decode(), mime, list(RULES.values())])
    for (rule, (shape, settings)), page in zip(RULES.items(), pages):
        with Image.open(io.BytesIO(data)) as image:
            expected, changes = convert(image, shape, dict(build_contract.CONVERSION, channels=shape[0], **settings))
        got = np.array(page["pixels"], dtype=np.int16)
        assert got.size == expected.size, f"{name}, {rule}: {got.size} values, not {expected.size}"
        difference = np.abs(got.reshape(shape) - expected.astype(np.int16))
        allowed = 0 if name.startswith(LOSSLESS) else 1
        assert difference.max() <= allowed, \
            f"{name}, {rule}: {int((difference > allowed).sum())} values differ by more than {allowed}"
        assert page["changes"] == [change for change, _ in changes], rule
        assert expected.std() > 20, "the sample must hold a picture, not a blank"
        print(f"{name}, {rule}: {int((difference == 1).sum())} of {expected.size} values one level apart")
