"""The inspector of the layers that compute no sum, in a real Chromium: ReLU's max(0, x), max pooling's
window and winner, and flatten's pointer back to the pool2 cell it moved; the page's number format.

    .venv/bin/python -m pytest tests/test_inspector_other_layers.py
"""
import numpy as np
import pytest
from playwright.sync_api import expect

from reader_helpers import (assert_prints, click_cell, cursor_selector, current_surface, expect_box, header_value,
                            inspector, layer_of, maps, printed, said, select, tables)


def test_script_prints_numbers_as_the_build_does(opened, contract):
    """The page's number format (static/format.js with the contract's format) gives Python's '.3g' with every
    minus sign a U+2212, for any magnitude."""
    values = [0.0, -0.0, 1.0, -1.0, 0.1234, -0.98765, 12.345, -123.45, 999.4, 999.6, 1234.5, -98765.0,
              0.001234, -0.0001234, 1.234e-5, -1.5e-5, -2.5e-7, 3.0e-12, 6.02e23]
    got = opened.evaluate("""async ([values, format]) => {
        const { formatNumber } = await import(new URL('static/format.js', document.baseURI));
        return values.map(value => formatNumber(value, format));
    }""", [values, contract["format"]])
    wanted = [printed(v) for v in values]
    assert [(v, g) for v, g, w in zip(values, got, wanted) if g != w] == [], \
        f"script vs Python: {[(v, g, w) for v, g, w in zip(values, got, wanted) if g != w]}"


@pytest.mark.parametrize("sign", ["negative", "positive"])
def test_relu_inspector_shows_the_value_before_and_after(opened, network_json, first, sign):
    """A relu1 pixel shows conv1's value and max(0, it), equal to the JSON on both sides."""
    before = maps(first, "conv1")
    k = next(k for k in range(before.shape[0]) if (before[k] < -0.1).any() and (before[k] > 0.1).any())
    r, c = map(int, np.argwhere(before[k] < -0.1)[0] if sign == "negative" else np.argwhere(before[k] > 0.1)[0])
    z, after = before[k, r, c], maps(first, "relu1")[k, r, c]
    assert after == max(0.0, z)
    select(opened, network_json, "relu1", k, r, c)

    line = said(inspector(opened, "relu1"), r"conv1 gave (\S+); max\(0, (\S+)\) = (\S+)\.")
    assert_prints(line.group(1), z, "before ReLU")
    assert line.group(1) == line.group(2)
    assert_prints(line.group(3), max(0.0, z), "after ReLU")
    assert_prints(header_value(opened, "relu1"), after, "relu1 value in the JSON")
    if sign == "negative":
        assert line.group(3) == "0"


def test_max_pool_inspector_marks_the_largest_of_its_window(opened, network_json, first):
    """A pool1 cell shows its 2×2 window of relu1 with the winner, and only it, marked."""
    pool = layer_of(network_json, "pool1")
    (kh, kw), (sh, sw) = pool["kernel_size"], pool["stride"]
    relu, pooled = maps(first, "relu1"), maps(first, "pool1")
    k, r, c = next((k, r, c) for k, r, c in np.ndindex(pooled.shape)
                   if k >= 1 and len(set(relu[k, r * sh:r * sh + kh, c * sw:c * sw + kw].ravel())) == kh * kw)
    windowed = relu[k, r * sh:r * sh + kh, c * sw:c * sw + kw]
    assert pooled[k, r, c] == windowed.max()
    select(opened, network_json, "pool1", k, r, c)

    marked = inspector(opened, "pool1").locator("mark")
    expect(marked).to_have_count(1)
    (grid,) = tables(inspector(opened, "pool1"))
    assert np.array(grid["rows"]).shape == (kh, kw)
    for u in range(kh):
        for v in range(kw):
            assert_prints(grid["rows"][u][v], windowed[u, v], f"window[{u}][{v}]")
    assert np.argwhere(np.array(grid["marked"])).tolist() == [list(np.unravel_index(windowed.argmax(), windowed.shape))]
    assert_prints(marked.inner_text(), pooled[k, r, c], "the marked maximum")
    assert_prints(header_value(opened, "pool1"), pooled[k, r, c], "pool1 value in the JSON")


def test_flatten_element_points_at_its_pool2_cell(opened, network_json, first, site_url):
    """Selecting element i of the flattened strip names its pool2 map, row and column and shows that cell."""
    channels, height, width = layer_of(network_json, "pool2")["shape"]
    grid_rows, grid_cols = layer_of(network_json, "flatten")["grid"]
    for ch, r, c in ((channels // 3, height - 2, width // 2), (channels - 1, 0, width - 1)):
        i = ch * height * width + r * width + c
        click_cell(opened, "flatten", i // grid_cols, i % grid_cols, grid_rows, grid_cols)
        panel = inspector(opened, "flatten")
        expect(panel).to_contain_text(f"flatten, element {i + 1} of {channels * height * width}:")
        expect(panel).to_contain_text(f"pool2, map {ch + 1}, row {r + 1}, column {c + 1}")
        assert_prints(header_value(opened, "flatten"), maps(first, "pool2")[ch, r, c], "the flattened value")

        expect(opened.locator("#fig-pool2 .lw-counter")).to_have_text(f"{ch + 1} / {channels}")
        expect_box(opened, cursor_selector(opened, "pool2"),
                   [100 * r / height, 100 * c / width, 100 / height, 100 / width])
        expect(current_surface(opened, "pool2").locator("img")).to_have_attribute(
            "src", site_url("map", input=first["id"], layer="pool2", k=ch))
