"""What the page says about the model, in a real Chromium: the summary table against torch's own
shapes and parameter counts, the training charts, and the accuracy it states.

    .venv/bin/python -m pytest tests/test_model_facts.py
"""
import re

import pytest
import torch
from playwright.sync_api import expect

from model.cnn import FashionCNN


def test_model_summary_lists_every_layer_with_torchs_shapes_and_parameter_counts(opened):
    """One row per layer of FashionCNN with its output shape and parameters, and the total, as torch counts them."""
    model = FashionCNN().eval()
    expected, x = [("input", "Input", tuple(model.input_shape), 0)], torch.zeros(1, *model.input_shape)
    with torch.no_grad():
        for name, child in model.named_children():
            x = child(x)
            expected.append((name, type(child).__name__, tuple(x.shape[1:]),
                             sum(p.numel() for p in child.parameters())))
    rows = opened.locator("table.lw-summary tbody tr")
    expect(rows).to_have_count(len(expected))
    shown_rows = [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in rows.all()]
    got = [(cells[0], cells[1], tuple(int(n) for n in cells[2].split("×")), int(cells[3].replace(",", "")))
           for cells in shown_rows]
    assert got == expected
    total = opened.locator("table.lw-summary tfoot td").inner_text()
    assert int(total.replace(",", "")) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("chart", ["training"])
def test_training_chart_loads(opened, site_url, chart):
    """The chart's SVG (its URL from the contract) is an image that loads (200, SVG) and renders with a caption."""
    image = opened.locator(f'.lw-figure img[src="{site_url("chart", name=chart)}"]')
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    opened.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    response = opened.request.get(image.evaluate("img => img.currentSrc"))
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    expect(image.locator("xpath=ancestor::figure//figcaption")).to_contain_text("Figure")


def test_confusion_matrix_shows_the_recorded_counts(opened, committed_metrics):
    """The confusion table: one row per true class, one column per predicted class, the metrics' counts."""
    matrix = committed_metrics["confusion_matrix"]
    rows = opened.locator("#fig-confusion tbody tr")
    expect(rows).to_have_count(len(matrix))
    shown = [[int(cell.replace(",", "")) for cell in row.locator("td").all_inner_texts()] for row in rows.all()]
    assert shown == matrix
    assert opened.locator("#fig-confusion tbody th").all_inner_texts() == list(FashionCNN.classes)


def test_stated_test_accuracy_is_the_recorded_one(opened, committed_metrics):
    """Every percentage said of the test images equals model/cnn.json's test_accuracy at its precision."""
    accuracy = committed_metrics["test_accuracy"]
    text = " ".join(opened.locator("body").inner_text().split())
    statements = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if "test images" in s and "%" in s]
    stated = [p for s in statements for p in re.findall(r"(\d+(?:\.\d+)?)%", s)]
    assert len(stated) >= 2, f"the accuracy is not stated: {statements}"
    for p in stated:
        decimals = len(p.partition(".")[2])
        assert p == f"{100 * accuracy:.{decimals}f}", f"page says {p}%, metrics.json {100 * accuracy}%"
