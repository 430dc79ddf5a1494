"""What a channel looks for, on the page: the dataset examples and the made images as the reader
sees them, in a real Chromium.

What the page shows is read from the page itself (its printed numbers, class names, test indices and
the pixels of its canvases) and checked against an independent pass over all 10,000 test images
(tests/oracle.py's float64 forward with torch.nn.functional), with each map's receptive field found
by autograd (oracle.depends_on): the examples shown are the true top 9 in order, with their values
and classes, and each crop is the test image cut at that unit's field. A made image is labelled as
made, and the activation it shows is the one the oracle computes for its pixels.

    .venv/bin/python -m pytest tests/test_examples_page.py
"""
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from conftest import CHECKPOINT, open_page
from model.cnn import FashionCNN
from oracle import FASHION_CNN, depends_on, field_geometry, forward, normalised
from reader_helpers import assert_prints, click_cell, header, layer_of, printed

COUNT = 9
READ_PANEL = """panel => [...panel.querySelectorAll('.lw-examples-list li')].map(item => {
  const canvas = item.querySelector('canvas');
  const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  return { texts: [...item.querySelectorAll('span')].map(span => span.textContent),
           size: [canvas.height, canvas.width], gray: [...rgba].filter((_, i) => i % 4 === 0),
           opaque: [...rgba].filter((_, i) => i % 4 === 3).every(a => a === 255) };
})"""
READ_CANVAS = """canvas => [...canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data]
  .filter((_, i) => i % 4 === 0)"""


@pytest.fixture(scope="module")
def state():
    return torch.load(CHECKPOINT, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def truth(state, fashion_test_split, network_json):
    """{layer: (10000, units) float64}: each channel's maximum over positions, each unit's value."""
    found = {layer: [] for layer in ("conv1", "conv2", "pool2", "fc1")}
    with torch.no_grad():
        for start in range(0, len(fashion_test_split.images), 1000):
            x = normalised(fashion_test_split.images[start:start + 1000], **network_json["normalisation"])
            outputs = forward(FASHION_CNN, state, x)
            for layer in found:
                values = outputs[layer]
                found[layer].append((values.flatten(2).amax(2) if values.dim() == 4 else values).numpy())
    return {layer: np.concatenate(parts) for layer, parts in found.items()}


@pytest.fixture(scope="module")
def mask_of():
    return depends_on(FashionCNN())


def field_crop(image, size, top, left):
    """The size × size pixels from (top, left), 0 where they fall outside the image."""
    padded = np.pad(image, size)
    return padded[top + size:top + 2 * size, left + size:left + 2 * size]


def expected_crops(layer_id, k, index, images, state, normalisation, mask_of, height):
    """For each test image in `index`: the crops of channel k's receptive field at every position
    where the oracle finds its maximum (several when positions tie)."""
    size, jump, start = field_geometry(mask_of, layer_id, height)
    with torch.no_grad():
        maps = forward(FASHION_CNN, state, normalised(images[index], **normalisation))[layer_id][:, k].numpy()
    crops = []
    for image, values in zip(images[index], maps):
        best = values.max()
        tied = np.argwhere(values >= best - 1e-5 * max(1.0, abs(best)))
        crops.append([field_crop(image, size, start + r * jump, start + c * jump) for r, c in tied])
    return crops


def question(page, layer_id):
    """A figure's question, "What does map k of … look for?", once the figure is in view (its
    script loads as the reader nears the figures)."""
    page.locator(f"#fig-{layer_id}").scroll_into_view_if_needed()
    return page.locator(f"#fig-{layer_id} .lw-examples-ask")


def open_panel(page, layer_id):
    """Press a figure's question and wait for its nine examples; the panel's element."""
    asked = question(page, layer_id)
    asked.click()
    expect(asked).to_have_attribute("aria-expanded", "true")
    panel = page.locator(f"#fig-{layer_id} .lw-examples")
    expect(panel.locator(".lw-examples-list li")).to_have_count(COUNT)
    return panel


CASES = [("conv1", 4), ("conv2", 10), ("conv2", 28), ("pool2", 7), ("fc1", 37)]


@pytest.mark.parametrize("layer_id, unit", CASES)
def test_the_examples_shown_are_the_true_top_nine_cut_at_the_units_field(
        page, server, network_json, truth, state, mask_of, fashion_test_split, layer_id, unit):
    """The question follows the carousel's map or the selected element; its panel lists the oracle's
    top 9 in order, each with its value as printed, its class and its test index, and each crop is
    the test image cut at the unit's receptive field (whole images for a vector's units)."""
    layer = layer_of(network_json, layer_id)
    if len(layer["shape"]) == 3:
        open_page(page, server, f"#{layer_id}={unit + 1}")
        kind = "map"
    else:
        open_page(page, server)
        rows, cols = layer["grid"]
        click_cell(page, layer_id, *divmod(unit, cols), rows, cols)
        kind = "unit"
    expect(question(page, layer_id)).to_have_text(f"What does {kind} {unit + 1} of {layer_id} look for?")
    panel = open_panel(page, layer_id)
    expect(panel.locator("p b").first).to_have_text(f"{kind.capitalize()} {unit + 1} of {layer_id}")
    shown = panel.evaluate(READ_PANEL)

    scores = truth[layer_id][:, unit]
    tolerance = 1e-4 * max(1.0, float(np.abs(scores).max()))
    order = np.lexsort((np.arange(len(scores)), -scores))
    index = [int(re.fullmatch(r"test (\d+)", item["texts"][2]).group(1)) for item in shown]
    assert len(set(index)) == COUNT
    for rank, (i, item) in enumerate(zip(index, shown)):
        what = f"{layer_id} {kind} {unit + 1}, example {rank + 1} (test image {i})"
        assert abs(scores[i] - scores[order[rank]]) <= tolerance, f"{what}: the true {rank + 1}th is {order[rank]}"
        assert_prints(item["texts"][0], scores[i], what)
        assert item["texts"][1] == network_json["classes"][int(fashion_test_split.labels[i])], what
        assert item["opaque"], what

    images = fashion_test_split.images.numpy()[:, 0]  # (N, 1, 28, 28): FashionMNIST's one channel
    if kind == "unit":
        for i, item in zip(index, shown):
            assert np.array_equal(np.reshape(item["gray"], item["size"]), images[i]), f"test image {i}"
        return
    crops = expected_crops(layer_id, unit, index, images, state, network_json["normalisation"], mask_of,
                           layer["shape"][1])
    for i, item, candidates in zip(index, shown, crops):
        crop = np.reshape(item["gray"], item["size"]).astype(np.uint8)
        assert any(np.array_equal(crop, each) for each in candidates), \
            f"{layer_id} map {unit + 1}: the crop of test image {i} is not its receptive field at its maximum"


def test_a_unit_selected_before_the_examples_load_is_the_one_asked_about(page, server, network_json):
    """The examples' code is held back until the reader has selected unit 38 of fc1; once it runs,
    the question asks about that unit, not the first."""
    held = []
    page.route("**/static/examples.js", lambda route: held.append(route))
    open_page(page, server)
    rows, cols = layer_of(network_json, "fc1")["grid"]
    click_cell(page, "fc1", *divmod(37, cols), rows, cols)
    expect(header(page, "fc1")).to_contain_text("fc1, element 38")
    assert len(held) == 1, "the examples' code was requested once, and is held"
    held[0].continue_()
    expect(question(page, "fc1")).to_have_text("What does unit 38 of fc1 look for?")


@pytest.mark.parametrize("layer_id, k", [("conv1", 9), ("conv2", 10)])
def test_the_made_image_is_labelled_as_made_and_reaches_the_value_it_shows(
        page, server, site, site_url, network_json, contract, state, layer_id, k):
    """Beside a convolution channel's examples: an image labelled as made, its pixels those of the
    published feature visualisation, its activation as featurevis/index.json says and as the oracle
    computes for those pixels, compared with the best example's."""
    made = next(entry for entry in json.loads((site / site_url("featurevis")).read_text(encoding="utf-8"))["layers"]
                if entry["id"] == layer_id)
    open_page(page, server, f"#{layer_id}={k + 1}")
    panel = open_panel(page, layer_id)
    said = panel.locator(".lw-made p").first
    expect(said).to_contain_text("Made, not found.")
    expect(said).to_contain_text(contract["texts"]["made"])
    value, best = made["value"][k], made["best_example"][k]
    expect(said).to_contain_text(f"It reaches {printed(value)}; the best test image reaches {printed(best)}.")
    first_example = panel.locator(".lw-examples-list li .lw-examples-value").first
    assert_prints(first_example.inner_text(), best, "the best example, as the made image's panel compares it")
    expect(panel.locator(".lw-made canvas")).to_have_attribute("aria-label", contract["texts"]["made"])
    expect(panel.locator(".lw-made details summary")).to_have_text("How it was made")

    h, w = made["tile"]
    x, y = made["tiles"][k]
    atlas = np.asarray(Image.open(site / site_url("featurevis_atlas", layer=layer_id)).convert("L"))
    tile = atlas[y:y + h, x:x + w]
    drawn = np.reshape(panel.locator(".lw-made canvas").evaluate(READ_CANVAS), (h, w))
    assert np.array_equal(drawn, tile), "the made image drawn is not the published one"

    top, left, bottom, right = made["box"]
    image = np.zeros(network_json["layers"][0]["shape"][1:], dtype=np.uint8)
    (origin_top, origin_left) = made["origin"]
    image[top:bottom, left:right] = tile[top - origin_top:bottom - origin_top, left - origin_left:right - origin_left]
    with torch.no_grad():
        outputs = forward(FASHION_CNN, state, normalised(image[None], **network_json["normalisation"]))
    reached = float(outputs[layer_id][0, k].max())
    assert abs(reached - value) <= 1e-4 * max(1.0, abs(value)), f"the made image reaches {reached}, not {value}"


def test_an_examples_figure_makes_its_rows_a_choice_that_moves_the_carousel(page, server, network_json):
    """In ![…](examples:conv2), a row is a radio: choosing map 11 (pointer) then 12 (arrow key) shows
    its examples below the rows and moves conv2's carousel with it."""
    open_page(page, server)
    figure = page.locator("#fig-examples-conv2")
    figure.scroll_into_view_if_needed()
    rows = figure.get_by_role("radio")
    count = layer_of(network_json, "conv2")["shape"][0]
    expect(rows).to_have_count(count)
    rows.nth(10).click()
    expect(rows.nth(10)).to_have_attribute("aria-checked", "true")
    expect(figure.locator(".lw-examples p b").first).to_have_text("Map 11 of conv2")
    expect(page.locator("#fig-conv2 .lw-counter")).to_have_text(f"11 / {count}")
    page.keyboard.press("ArrowDown")
    expect(rows.nth(11)).to_be_focused()
    expect(figure.locator(".lw-examples p b").first).to_have_text("Map 12 of conv2")
    expect(page.locator("#fig-conv2 .lw-counter")).to_have_text(f"12 / {count}")
    expect(figure.locator(".lw-examples-list li")).to_have_count(COUNT)
    expect(figure.locator(".lw-made")).to_be_visible()
