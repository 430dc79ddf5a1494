"""Receptive fields of windows that are not square (a 1 × 5 kernel, a 4 × 2 pool, a stride of (2, 1),
a padding of (0, 2): tests/models/nonsquare.py) are worked out per axis: the published field, the
article's {{ net.<id>.receptive }} and the inspector's outline and text, in a real Chromium, each
against the input pixels autograd finds a cell depends on (tests/oracle.py's depends_on).

    .venv/bin/python -m pytest tests/test_non_square_fields.py
"""
import json

import pytest
import torch
from playwright.sync_api import expect

from builder.build import build
from conftest import urls_of
from oracle import box_of, depends_on, rectangle
from reader_helpers import click_cell, expect_box, header, inspector
from tests.models.nonsquare import NonSquare

SPATIAL = ("wide", "act", "pool", "tall")


@pytest.fixture(scope="module")
def field_of():
    """(layer_id, row, col) → (top, bottom, left, right) of the input pixels that cell depends on."""
    mask_of = depends_on(NonSquare())
    return lambda layer_id, row, col: rectangle(mask_of(layer_id, row, col))


@pytest.fixture(scope="module")
def nonsquare_site(tmp_path_factory, built):
    """NonSquare with random weights, built with a figure and a sentence per spatial layer."""
    folder = tmp_path_factory.mktemp("nonsquare")
    torch.manual_seed(0)
    checkpoint = folder / "model.pt"
    torch.save(NonSquare().state_dict(), checkpoint)
    checkpoint.with_suffix(".json").write_text(json.dumps(dict(
        normalisation=dict(mean=0.286, std=0.353), test_accuracy=0.1, test_images=10000,
        hyperparameters=dict(train_images=60000))))
    content = folder / "content"
    (content / "inputs").mkdir(parents=True)
    first = sorted((built.content / "inputs").glob("*.png"))[0]
    (content / "inputs" / first.name).write_bytes(first.read_bytes())
    body = "\n\n".join(f"![Layer {layer}](layer:{layer})\n\n{layer} sees {{{{ net.{layer}.receptive }}}}."
                       for layer in SPATIAL)
    (content / "article.md").write_text(f"---\nmodel: tests.models.nonsquare:NonSquare\ncheckpoint: {checkpoint}\n"
                                        f"---\n\n{body}\n", encoding="utf-8")
    build(content, folder / "site", log=lambda message: None)
    return folder / "site"


@pytest.fixture(scope="module")
def layers(nonsquare_site):
    network = json.loads((nonsquare_site / urls_of(nonsquare_site)("network")).read_text(encoding="utf-8"))
    return {layer["id"]: layer for layer in network["layers"]}


def cells(shape):
    """Every cell of a (C, H, W) map."""
    return [(r, c) for r in range(shape[1]) for c in range(shape[2])]


@pytest.mark.parametrize("layer_id", SPATIAL)
def test_every_cells_published_field_is_what_it_depends_on(layers, field_of, layer_id):
    """network.json's field, clipped to the image, is the rectangle autograd finds, for every cell."""
    layer = layers[layer_id]
    for r, c in cells(layer["shape"]):
        assert box_of(layer["receptive"], r, c, 28, 28) == field_of(layer_id, r, c), (layer_id, r, c)


def test_the_article_prints_rows_by_columns(nonsquare_site, layers, field_of):
    """{{ net.<id>.receptive }} prints the middle cell's field as autograd measures it: rows × columns."""
    html = (nonsquare_site / "index.html").read_text(encoding="utf-8")
    for layer_id in SPATIAL:
        _, rows, cols = layers[layer_id]["shape"]
        top, bottom, left, right = field_of(layer_id, rows // 2, cols // 2)
        assert f"{layer_id} sees {bottom - top + 1} × {right - left + 1} pixels." in html, layer_id


@pytest.mark.parametrize("layer_id", ["wide", "pool", "tall"])
def test_the_inspector_outlines_what_a_cell_depends_on(page, serve, nonsquare_site, layers, field_of, layer_id):
    """A selected cell's patch is named rows × columns and outlined where autograd finds it."""
    page.goto(serve(nonsquare_site).url + "index.html")
    _, rows, cols = layers[layer_id]["shape"]
    middle = field_of(layer_id, rows // 2, cols // 2)
    size = (middle[1] - middle[0] + 1, middle[3] - middle[2] + 1)
    for r, c in ((rows // 2, cols // 2), (0, 0), (rows - 1, cols - 1)):
        top, bottom, left, right = field_of(layer_id, r, c)
        click_cell(page, layer_id, r, c, rows, cols)
        expect(header(page, layer_id)).to_contain_text(f"row {r + 1}, column {c + 1}:")
        patch = (bottom - top + 1, right - left + 1)
        past = f"; its {size[0]} × {size[1]} window reaches past the image, into padding" if patch != size else ""
        expect(inspector(page, layer_id).locator(".lw-receptive")).to_contain_text(
            f"a {patch[0]} × {patch[1]} patch of the input: rows {top + 1}–{bottom + 1}, "
            f"columns {left + 1}–{right + 1}{past}.")
        expect_box(page, f"#fig-{layer_id} .lw-inspector .lw-receptive .lw-field .lw-cursor",
                   [100 * top / 28, 100 * left / 28, 100 * (bottom - top + 1) / 28, 100 * (right - left + 1) / 28])
