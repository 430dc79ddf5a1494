"""Helpers for the reader-experience tests: read numbers as the page prints them, select cells and
inputs and wait for their effect, and measure colours. The numbers to compare with come from
tests/oracle.py.

Used by the tests of the page in a browser (test_inspector_*.py, test_receptive_fields.py, test_outputs.py,
test_deep_links.py, test_keyboard.py, test_accessibility.py, test_budget.py, …).
"""
import math
import re
from pathlib import Path

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout
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


def last_digit(text):
    """The unit of a printed number's last digit: '1.23' → 0.01, '4.5e−05' → 1e-06, '120' → 1."""
    mantissa, _, exponent = text.strip().replace(MINUS, "-").partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def assert_prints(text, value, what="value", rounded=False):
    """`text` is `value` rounded to its last printed digit (within half a unit of it): three
    significant digits, or more for the numbers of a sum, which are printed with the decimals that
    make them add up; `rounded`: `value` was read from a data file, rounded to four digits, and the
    page may have printed the unrounded number, so allow for that rounding too."""
    got = shown(text)
    unit = last_digit(text)
    slack = 0.05 * 10 ** (math.floor(math.log10(abs(value))) - 2) if rounded and value else 0.0
    assert abs(got - value) <= 0.5 * unit * (1 + 1e-9) + slack + 1e-12, \
        f"{what}: page prints {text!r}, expected {value:.6g}"


def error_of(got, expected):
    """The largest |got − expected| ÷ max(1, |expected|)."""
    got, expected = np.asarray(got, np.float64).ravel(), np.asarray(expected, np.float64).ravel()
    assert got.shape == expected.shape, (got.shape, expected.shape)
    return float((np.abs(got - expected) / np.maximum(1.0, np.abs(expected))).max(initial=0.0))


def close(a, b, scale):
    """Two computations of one value agree, up to the data files' four-digit rounding of `scale`."""
    return abs(a - b) <= 2e-3 * scale + 1e-4


# --- the data files ------------------------------------------------------------------------------

def layer_of(network_json, layer_id):
    return next(layer for layer in network_json["layers"] if layer["id"] == layer_id)


def maps(record, layer_id):
    """One layer's output for one input, exactly as the page reads it (the .f32 file),
    as an array shaped like the layer (C, H, W) or (N,)."""
    return record["exact"][layer_id]


def predicted(record):
    """The class the network picks, from the logits themselves."""
    return int(np.argmax(record["logits"]))


def wrong_inputs(input_records):
    return [r for r in input_records if r["label"] is not None and r["label"] != predicted(r)]


# --- the page ------------------------------------------------------------------------------------

def current_surface(page, layer_id):
    """The selectable surface a figure shows now: the current map of a carousel, or its only one."""
    figure = page.locator(f"#fig-{layer_id}")
    current = figure.locator(".lw-maps > li.is-current .lw-surface")
    return current if figure.get_attribute("data-kind") == "maps" else figure.locator(".lw-surface").first


def cursor_selector(page, layer_id):
    """A CSS selector for the cursor on a figure's current surface (see current_surface)."""
    maps_figure = page.locator(f"#fig-{layer_id}").get_attribute("data-kind") == "maps"
    return f"#fig-{layer_id} " + (".lw-maps > li.is-current .lw-surface .lw-cursor" if maps_figure
                                  else ".lw-surface .lw-cursor")


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


def header(page, layer_id):
    """The inspector's first line: '<layer>, map k, row r, column c: <value>'."""
    return inspector(page, layer_id).locator("p").first


def header_value(page, layer_id):
    return header(page, layer_id).locator("b").inner_text()


def step_to(page, layer_id, k):
    """Show map k (0-based) of a carousel with its Next button."""
    figure = page.locator(f"#fig-{layer_id}")
    for _ in range(k):
        figure.locator(".lw-next").click()
    count = int(figure.locator(".lw-counter").inner_text().split("/")[1])
    expect(figure.locator(".lw-counter")).to_have_text(f"{k + 1} / {count}")


def select(page, network_json, layer_id, k, r, c):
    """Select cell (r, c) of map k of a spatial layer with the pointer; wait for its arithmetic."""
    _, rows, cols = layer_of(network_json, layer_id)["shape"]
    step_to(page, layer_id, k)
    click_cell(page, layer_id, r, c, rows, cols)
    expect(header(page, layer_id)).to_contain_text(f"{layer_id}, map {k + 1}, row {r + 1}, column {c + 1}:")


def choose(page, record, site_url):
    """Pick an input in the picker and wait until the page shows it: its conv1 map, its prediction
    in the status line and the output table."""
    page.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute(
        "src", site_url("map", input=record["id"], layer="conv1", k=0))
    expect(page.locator("[role=status]")).to_contain_text(f"predicted {record['classes'][predicted(record)]}")
    expect(page.locator("#fig-fc2 tbody tr.is-predicted th")).to_have_text(record["classes"][predicted(record)])


def said(locator, pattern):
    """Wait until `locator`'s text contains a match of `pattern`, then return the match."""
    expect(locator).to_contain_text(re.compile(pattern))
    return re.search(pattern, locator.inner_text())


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


_BOX_IS = """([selector, wanted, tolerance]) => {
  const e = document.querySelector(selector);
  if (!e || e.hidden) return false;
  const box = [e.style.top, e.style.left, e.style.height, e.style.width].map(parseFloat);
  return box.every((v, i) => Math.abs(v - wanted[i]) <= tolerance);
}"""


def expect_box(page, selector, wanted, tolerance=1e-3):
    """Wait until the element at `selector` is shown with inline top, left, height and width `wanted`
    (percent of its surface), as a selection's cursor is once the page has drawn it."""
    try:
        page.wait_for_function(_BOX_IS, arg=[selector, list(wanted), tolerance])
    except PlaywrightTimeout:
        shown = cursor_box(page.locator(selector)) if page.locator(selector).count() else "no element"
        raise AssertionError(f"{selector}: the box is {shown}, never {list(wanted)}") from None
    expect(page.locator(selector)).to_be_visible()


def picker_bottom(page):
    """Where the sticky input picker ends, in viewport pixels: nothing the reader is taken to may be above it."""
    return page.evaluate("document.querySelector('.lw-picker').getBoundingClientRect().bottom")


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
