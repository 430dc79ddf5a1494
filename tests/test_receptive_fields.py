"""Receptive fields on the page, in a real Chromium: a selected cell names and outlines the input pixels
it depends on, as autograd through FashionCNN's own layers finds them (tests/oracle.py).

    .venv/bin/python -m pytest tests/test_receptive_fields.py
"""
import re

import pytest
from playwright.sync_api import expect

from model.cnn import FashionCNN
from oracle import depends_on, rectangle
from reader_helpers import click_cell, expect_box, header, inspector, layer_of


@pytest.fixture(scope="module")
def field_of():
    """(layer_id, row, col) → (top, bottom, left, right) of the input pixels that cell depends on."""
    mask_of = depends_on(FashionCNN())
    return lambda layer_id, row, col: rectangle(mask_of(layer_id, row, col))


@pytest.mark.parametrize("layer_id", ["conv1", "pool1", "conv2", "pool2"])
def test_selected_cell_outlines_its_receptive_field_on_the_input(opened, network_json, field_of, first, site_url,
                                                                 layer_id):
    """The inspector names the N × N input patch a cell depends on and outlines it, as autograd finds it."""
    _, rows, cols = layer_of(network_json, layer_id)["shape"]
    _, height, width = layer_of(network_json, "input")["shape"]
    top, bottom, left, right = field_of(layer_id, rows // 2, cols // 2)
    size = bottom - top + 1
    assert right - left + 1 == size and 0 < top and bottom < height - 1, "the centre's field should fit the image"
    print(f"{layer_id}: autograd finds a {size} × {size} receptive field")

    field = inspector(opened, layer_id).locator(".lw-receptive")
    for r, c in ((rows // 2, cols // 2), (0, 0), (rows - 1, cols - 1)):
        top, bottom, left, right = field_of(layer_id, r, c)
        click_cell(opened, layer_id, r, c, rows, cols)
        expect(header(opened, layer_id)).to_contain_text(f"row {r + 1}, column {c + 1}:")
        patch = (bottom - top + 1, right - left + 1)
        past = f"; its {size} × {size} window reaches past the image, into padding" if patch != (size, size) else ""
        expect(field).to_have_text(re.compile(re.escape(
            f"a {patch[0]} × {patch[1]} patch of the input: rows {top + 1}–{bottom + 1}, "
            f"columns {left + 1}–{right + 1}{past}.") + "$"))
        expect_box(opened, f"#fig-{layer_id} .lw-inspector .lw-receptive .lw-field .lw-cursor",
                   [100 * top / height, 100 * left / width, 100 * (bottom - top + 1) / height,
                    100 * (right - left + 1) / width])
    expect(field.locator(".lw-field img")).to_have_attribute(
        "src", site_url("map", input=first["id"], layer="input", k=0))
