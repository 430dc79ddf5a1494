"""Helpers for the reader-experience tests: read numbers as the page prints them, select cells,
recompute values independently of the page, and measure colours.

Used by tests/test_reader.py, tests/test_budget.py and tests/test_lighthouse.py.
"""
import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MINUS = "\u2212"


# --- numbers -------------------------------------------------------------------------------------

def printed(value, digits=3):
    """The page's number format, written from its specification: Python's '.3g', true minus signs."""
    return f"{float(value) + 0.0:.{digits}g}".replace("-", MINUS)


def shown(text):
    """A number as the page prints it ('−1.23', '4.5e−05') as a float; an ASCII hyphen is refused."""
    text = text.strip()
    assert "-" not in text, f"{text!r} is printed with an ASCII hyphen instead of a minus sign (U+2212)"
    return float(text.replace(MINUS, "-"))


def assert_prints(text, value, what="value", rounded=False):
    """`text` is `value` rounded to three significant digits (half a unit of the third digit);
    `rounded`: `value` was read from a data file, rounded to four digits, and the page may have
    printed the unrounded number, so allow for that rounding too."""
    got = shown(text)
    unit = 10 ** (math.floor(math.log10(abs(value))) - 2) if value else 1e-12
    slack = 0.05 * unit if rounded else 0.0
    assert abs(got - value) <= 0.5 * unit * (1 + 1e-9) + slack + 1e-12, \
        f"{what}: page prints {text!r}, expected {value:.6g}"
    assert len(re.sub(r"e.*$", "", text).replace(MINUS, "").replace(".", "").lstrip("0")) <= 3, \
        f"{what}: {text!r} has more than three significant digits"


def close(a, b, scale):
    """Two computations of one value agree, up to the data files' four-digit rounding of `scale`."""
    return abs(a - b) <= 2e-3 * scale + 1e-4


# --- the data files ------------------------------------------------------------------------------

def layer_of(network_json, layer_id):
    return next(layer for layer in network_json["layers"] if layer["id"] == layer_id)


def maps(record, layer_id):
    """One layer's output for one input, exactly as the page reads it (data/<input>.f32),
    as an array shaped like the layer (C, H, W) or (N,)."""
    return record["exact"][layer_id]


def conv_weights(network_json, layer_id):
    """(weight, bias) of a conv layer as float64 tensors, shaped (out, in, kh, kw) and (out,)."""
    layer = layer_of(network_json, layer_id)
    out, kh, kw = layer["shape"][0], *layer["kernel_size"]
    weight = torch.tensor(layer["weight"], dtype=torch.float64).reshape(out, -1, kh, kw)
    return weight, torch.tensor(layer["bias"], dtype=torch.float64)


def window(values, top, left, h, w):
    """values[top:top+h, left:left+w] of one 2-D map, with zeros where the window leaves it."""
    out = np.zeros((h, w))
    for u in range(h):
        for v in range(w):
            y, x = top + u, left + v
            if 0 <= y < values.shape[0] and 0 <= x < values.shape[1]:
                out[u, v] = values[y, x]
    return out


def conv_at(network_json, record, layer_id, before_id, k, r, c, channels=None, magnitude=False):
    """Recompute one conv output with torch's conv2d on the published input and weights;
    `channels` limits the sum to some input channels (the bias is then left out);
    `magnitude` sums the terms' absolute values instead, the scale of their rounding errors."""
    layer = layer_of(network_json, layer_id)
    weight, bias = conv_weights(network_json, layer_id)
    x = torch.tensor(maps(record, before_id))[None]
    if magnitude:
        x, weight, bias = x.abs(), weight.abs(), bias.abs()
    if channels is not None:
        x, weight, bias = x[:, channels], weight[:, channels], torch.zeros_like(bias)
    y = F.conv2d(x, weight, bias, stride=tuple(layer["stride"]), padding=tuple(layer["padding"]))
    return float(y[0, k, r, c])


# --- the page ------------------------------------------------------------------------------------

def current_surface(page, layer_id):
    """The selectable surface a figure shows now: the current map of a carousel, or its only one."""
    figure = page.locator(f"#fig-{layer_id}")
    current = figure.locator(".lw-maps > li.is-current .lw-surface")
    return current if figure.get_attribute("data-kind") == "maps" else figure.locator(".lw-surface").first


def click_cell(page, layer_id, r, c, rows, cols):
    """Click the centre of cell (r, c) of a figure's current surface, `rows` × `cols` cells."""
    surface = current_surface(page, layer_id)
    surface.scroll_into_view_if_needed()
    image = surface.locator("img").first
    expect(image).to_be_visible()
    box = image.bounding_box()
    image.click(position={"x": (c + 0.5) * box["width"] / cols, "y": (r + 0.5) * box["height"] / rows})


def inspector(page, layer_id):
    return page.locator(f"#fig-{layer_id} .lw-inspector")


def tables(locator):
    """Every table under `locator`: its caption and its cells' text, row by row."""
    return locator.evaluate("""root => [...root.querySelectorAll('table')].map(t => ({
        caption: t.caption ? t.caption.textContent.trim() : '',
        rows: [...t.rows].map(row => [...row.cells].map(cell => cell.textContent.trim())),
        marked: [...t.rows].map(row => [...row.cells].map(cell => !!cell.querySelector('mark')))}))""")


def cursor_box(locator):
    """A cursor's top, left, height and width in percent of its surface, from its inline style
    (which the browser keeps to six significant digits)."""
    style = locator.evaluate("e => [e.style.top, e.style.left, e.style.height, e.style.width]")
    return [float(s.rstrip("%")) for s in style]


def open_page(page, server, fragment=""):
    page.goto(server + "index.html" + fragment)
    expect(page.locator("#fig-conv1 .lw-counter")).to_be_visible()  # the script has run


def wait_for_images(locator):
    """Wait until every image under `locator` that is rendered has finished loading."""
    locator.evaluate("""root => Promise.all([...root.querySelectorAll('img')]
        .filter(img => img.getClientRects().length)
        .map(img => img.complete ? null : new Promise(done => { img.onload = img.onerror = done; })))""")


# --- colours -------------------------------------------------------------------------------------

def rgb(css):
    """'rgb(1, 2, 3)' or 'rgba(1, 2, 3, 0.5)' → (r, g, b, alpha)."""
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def luminance(colour):
    """WCAG 2 relative luminance of an (r, g, b) colour with 0-255 channels."""
    def linear(channel):
        s = channel / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(ch) for ch in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground, background):
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
