"""One conversion for the author's images and the reader's: the build's (builder/inputs.py, with
Pillow) and the page's (static/upload.js decoding, static/convert.js converting), both following
the contract's `conversion`, must give the same 28×28 pixels within one grey level, and say the
same about what they did, for images of every kind a reader may bring.

    .venv/bin/python -m pytest tests/test_convert.py
"""
import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from builder import contract as build_contract
from builder.inputs import _as_fashion_mnist
from conftest import open_page

# Decode and convert bytes in the page, with the page's own modules.
CONVERT = """async ([encoded, type, size]) => {
  const { decode } = await import('./static/upload.js');
  const { convert } = await import('./static/convert.js');
  const contract = await fetch(document.body.dataset.contract).then(response => response.json());
  const bytes = Uint8Array.from(atob(encoded), ch => ch.charCodeAt(0));
  const image = await decode(new File([bytes], 'sample', { type }));
  const { pixels, changes } = convert(image, size, contract.conversion);
  return { pixels: Array.from(pixels), changes };
}"""


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


@pytest.mark.parametrize("name", SAMPLES)
def test_page_converts_as_the_build_does(opened, name):
    """Same pixels within one grey level, and the same list of what was done."""
    data, mime = SAMPLES[name]()
    with Image.open(io.BytesIO(data)) as image:
        expected, changes = _as_fashion_mnist(image, (28, 28))
    page = opened.evaluate(CONVERT, [base64.b64encode(data).decode(), mime, [28, 28]])
    got = np.array(page["pixels"], dtype=np.int16).reshape(28, 28)
    difference = np.abs(got - expected.astype(np.int16))
    assert difference.max() <= 1, f"{name}: {int((difference > 1).sum())} pixels differ by more than one level"
    said = [build_contract.text(change, width=image.width, height=image.height, size="28×28")
            for change in page["changes"]]
    assert said == changes
    assert expected.std() > 20, "the sample must hold a garment, not a blank"
    print(f"{name}: {int((difference == 1).sum())} of 784 pixels one level apart")
