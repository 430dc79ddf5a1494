"""Screenshots for review, in a real Chromium: the whole page and figure 2 with its inspector open,
on a phone and on a desktop, written to tests/artifacts/.

    .venv/bin/python -m pytest tests/test_screenshots.py
"""
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import ARTIFACTS, click_cell, header, inspector, layer_of, wait_for_images


@pytest.mark.parametrize("width", [375, 1280])
def test_screenshots_of_the_page_and_figure_2_with_its_inspector(new_context, server, network_json, width):
    """Write tests/artifacts/page-<width>.png (full page) and figure2-<width>.png (inspector open) for review."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    open_page(page, server)
    for figure in page.locator(".lw-figure").all():
        figure.scroll_into_view_if_needed()
        wait_for_images(figure)
    page.evaluate("scrollTo(0, 0)")
    full = ARTIFACTS / f"page-{width}.png"
    page.screenshot(path=full, full_page=True)
    assert Image.open(full).size[0] >= width

    figure = page.locator(".lw-figure").filter(has=page.locator(".lw-number", has_text=re.compile(r"^Figure 2\.$")))
    expect(figure).to_have_count(1)
    layer_id = figure.get_attribute("data-layer")
    _, rows, cols = layer_of(network_json, layer_id)["shape"]
    click_cell(page, layer_id, rows // 2, cols // 3, rows, cols)
    expect(inspector(page, layer_id)).to_be_visible()
    expect(header(page, layer_id)).to_contain_text(f"row {rows // 2 + 1}, column {cols // 3 + 1}:")
    wait_for_images(figure)
    page.mouse.move(0, 0)
    figure.screenshot(path=ARTIFACTS / f"figure2-{width}.png")
    assert (ARTIFACTS / f"figure2-{width}.png").stat().st_size > 0
