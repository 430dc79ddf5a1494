"""The reader's experience in a real Chromium: the inspector's arithmetic, receptive fields, filters,
the output, the summary, deep links, accessibility and screenshots, each checked against numbers
recomputed here from the published data files and from the model's own PyTorch modules.

    .venv/bin/python -m pytest tests/test_reader.py
"""
import math
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect
from torch import nn

from model.cnn import FashionCNN
from reader_helpers import (ARTIFACTS, assert_prints, click_cell, close, contrast, conv_at,
                            conv_weights, current_surface, cursor_box, inspector, layer_of, luminance,
                            maps, open_page, printed, rgb, shown, tables, wait_for_images, window)


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def first(input_records):
    """The input the page shows before the reader chooses one: the first of the picker."""
    return input_records[0]


@pytest.fixture
def opened(page, server, first):
    """The article open in Chromium with its script running; console errors are collected."""
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    open_page(page, server)
    expect(page.locator(".lw-picker input:checked")).to_have_value(first["id"])
    return page


def predicted(record):
    """The class the network picks, from the logits themselves."""
    return int(np.argmax(record["logits"]))


def softmax(logits):
    z = np.exp(np.array(logits, dtype=np.float64) - max(logits))
    return z / z.sum()


def wrong_inputs(input_records):
    return [r for r in input_records if r["label"] is not None and r["label"] != predicted(r)]


def header(page, layer_id):
    """The inspector's first line: '<layer>, map k, row r, column c: <value>'."""
    return inspector(page, layer_id).locator("p").first


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


def header_value(page, layer_id):
    return header(page, layer_id).locator("b").inner_text()


# --- numbers -------------------------------------------------------------------------------------

def test_script_prints_numbers_as_the_build_does(opened):
    """The script's num() gives Python's '.3g' with every minus sign a U+2212, for any magnitude."""
    values = [0.0, -0.0, 1.0, -1.0, 0.1234, -0.98765, 12.345, -123.45, 999.4, 999.6, 1234.5, -98765.0,
              0.001234, -0.0001234, 1.234e-5, -1.5e-5, -2.5e-7, 3.0e-12, 6.02e23]
    got = opened.evaluate("values => values.map(num)", values)
    wanted = [printed(v) for v in values]
    assert [(v, g) for v, g, w in zip(values, got, wanted) if g != w] == [], \
        f"script vs Python: {[(v, g, w) for v, g, w in zip(values, got, wanted) if g != w]}"


# --- 1. the convolution inspector ----------------------------------------------------------------

def check_single_channel_sum(page, network_json, record, layer_id, k, r, c):
    """The inspector of a one-channel conv value shows patch × kernel = products, the bias and the sum."""
    layer = layer_of(network_json, layer_id)
    before = network_json["layers"][network_json["layers"].index(layer) - 1]
    weight, bias = conv_weights(network_json, layer_id)
    (kh, kw), (ph, pw), (sh, sw) = layer["kernel_size"], layer["padding"], layer["stride"]
    patch = window(maps(record, before["id"])[0], r * sh - ph, c * sw - pw, kh, kw)
    kernel = weight[k, 0].numpy()
    products = patch * kernel
    value = maps(record, layer_id)[k, r, c]
    total = conv_at(network_json, record, layer_id, before["id"], k, r, c)

    panel = inspector(page, layer_id)
    expect(panel).to_be_visible()
    shown_patch, shown_kernel, shown_products = tables(panel)
    assert shown_patch["caption"].startswith(before["id"])
    assert (shown_kernel["caption"], shown_products["caption"]) == ("kernel", "products")
    for name, grid, expected in (("patch", shown_patch, patch), ("kernel", shown_kernel, kernel),
                                 ("products", shown_products, products)):
        assert np.array(grid["rows"]).shape == (kh, kw), name
        for u in range(kh):
            for v in range(kw):
                assert_prints(grid["rows"][u][v], expected[u, v], f"{name}[{u}][{v}]")

    text = panel.inner_text()
    sum_text = re.search(rf"Sum of the {kh * kw} products: (\S+)", text).group(1)
    assert_prints(sum_text, products.sum(), "sum of the products")
    line = re.search(r"(\S+) \+ bias (\S+) = (\S+), the value shown", text)
    assert line, f"no 'sum + bias = value' line in:\n{text}"
    assert_prints(line.group(2), float(bias[k]), "bias")
    assert_prints(line.group(3), total, "the sum plus the bias, against torch's conv2d on the published numbers")
    assert_prints(header_value(page, layer_id), value, f"{layer_id} value in data/{record['id']}.json")
    assert close(value, total, np.abs(products).sum() + abs(float(bias[k]))), \
        "the published value is not the convolution of the published input and weights"


def test_conv1_inspector_shows_patch_kernel_products_bias_and_sum(opened, network_json, first):
    """Clicking a conv1 pixel shows its 3×3 patch, kernel, products, bias and sum, equal to the JSON value."""
    k = 2
    values = maps(first, "conv1")[k, 1:-1, 1:-1]
    r, c = (int(i) + 1 for i in np.unravel_index(np.abs(values).argmax(), values.shape))  # an interior pixel
    select(opened, network_json, "conv1", k, r, c)
    check_single_channel_sum(opened, network_json, first, "conv1", k, r, c)
    cursor = current_surface(opened, "conv1").locator(".lw-cursor")
    expect(cursor).to_be_visible()
    _, rows, cols = layer_of(network_json, "conv1")["shape"]
    assert cursor_box(cursor) == pytest.approx([100 * r / rows, 100 * c / cols, 100 / rows, 100 / cols], abs=1e-3)
    assert opened.errors == []


def test_conv1_inspector_follows_the_arrow_keys_and_pads_with_zeros(opened, network_json, first):
    """Focusing a conv1 map selects its corner (zero padding shown); arrows move the selection, not the map."""
    surface = current_surface(opened, "conv1")
    surface.focus()
    expect(header(opened, "conv1")).to_contain_text("conv1, map 1, row 1, column 1:")
    check_single_channel_sum(opened, network_json, first, "conv1", 0, 0, 0)
    patch = tables(inspector(opened, "conv1"))[0]["rows"]
    assert [row[0] for row in patch] == ["0"] * len(patch) and set(patch[0]) == {"0"}, "the padding is not zeros"

    for key in ("ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowLeft"):
        opened.keyboard.press(key)
    expect(header(opened, "conv1")).to_contain_text("conv1, map 1, row 3, column 3:")
    check_single_channel_sum(opened, network_json, first, "conv1", 0, 2, 2)
    expect(opened.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^1 / "))


def test_conv1_inspector_uses_the_chosen_inputs_numbers(opened, network_json, input_records):
    """After choosing another input, a conv1 pixel's arithmetic and value come from that input's JSON."""
    record = input_records[-1]
    opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    expect(current_surface(opened, "conv1").locator("img")).to_have_attribute("src", re.compile(record["id"]))
    select(opened, network_json, "conv1", 5, 14, 9)
    check_single_channel_sum(opened, network_json, record, "conv1", 5, 14, 9)


def test_conv2_inspector_adds_one_contribution_per_input_map(opened, network_json, first):
    """A conv2 value is the sum of one contribution per pool1 map plus the bias; a map's button opens its 3×3."""
    k, r, c = 4, 6, 7
    weight, bias = conv_weights(network_json, "conv2")
    channels = weight.shape[1]
    parts = [conv_at(network_json, first, "conv2", "pool1", k, r, c, channels=[ch]) for ch in range(channels)]
    value, total = maps(first, "conv2")[k, r, c], conv_at(network_json, first, "conv2", "pool1", k, r, c)
    select(opened, network_json, "conv2", k, r, c)

    panel = inspector(opened, "conv2")
    buttons = panel.locator("button[data-channel]")
    expect(buttons).to_have_count(channels)
    for ch in range(channels):
        button = panel.locator(f'button[data-channel="{ch}"]')
        assert_prints(button.inner_text(), parts[ch], f"contribution of pool1 map {ch + 1}")
        assert button.get_attribute("aria-label").startswith(f"pool1 map {ch + 1}:")
    line = re.search(r"Total (\S+) \+ bias (\S+) = (\S+), the value shown", panel.inner_text())
    assert line, panel.inner_text()
    assert_prints(line.group(1), sum(parts), "sum of the contributions")
    assert_prints(line.group(2), float(bias[k]), "bias")
    assert_prints(line.group(3), total, "the total plus the bias, against torch's conv2d on the published numbers")
    assert close(value, total, conv_at(network_json, first, "conv2", "pool1", k, r, c, magnitude=True))
    assert_prints(header_value(opened, "conv2"), value, "conv2 value in the JSON")

    ch = 9
    panel.locator(f'button[data-channel="{ch}"]').click()
    detail = panel.locator(".lw-detail")
    expect(detail.locator("table")).to_have_count(3)
    patch, kernel, products = tables(detail)
    assert patch["caption"] == f"pool1 map {ch + 1}"
    expected_patch = window(maps(first, "pool1")[ch], r - 1, c - 1, 3, 3)
    expected_kernel = weight[k, ch].numpy()
    for u in range(3):
        for v in range(3):
            assert_prints(patch["rows"][u][v], expected_patch[u, v], f"patch[{u}][{v}]")
            assert_prints(kernel["rows"][u][v], expected_kernel[u, v], f"kernel[{u}][{v}]")
            assert_prints(products["rows"][u][v], expected_patch[u, v] * expected_kernel[u, v], f"product[{u}][{v}]")
    assert_prints(re.search(r"Sum of the 9 products: (\S+)", detail.inner_text()).group(1), parts[ch], "detail sum")
    assert opened.errors == []


# --- 2. ReLU and max pooling ---------------------------------------------------------------------

@pytest.mark.parametrize("sign", ["negative", "positive"])
def test_relu_inspector_shows_the_value_before_and_after(opened, network_json, first, sign):
    """A relu1 pixel shows conv1's value and max(0, it), equal to the JSON on both sides."""
    before = maps(first, "conv1")
    k = next(k for k in range(before.shape[0]) if (before[k] < -0.1).any() and (before[k] > 0.1).any())
    r, c = map(int, np.argwhere(before[k] < -0.1)[0] if sign == "negative" else np.argwhere(before[k] > 0.1)[0])
    z, after = before[k, r, c], maps(first, "relu1")[k, r, c]
    assert after == max(0.0, z)
    select(opened, network_json, "relu1", k, r, c)

    line = re.search(r"conv1 gave (\S+); max\(0, (\S+)\) = (\S+)\.", inspector(opened, "relu1").inner_text())
    assert line, inspector(opened, "relu1").inner_text()
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

    (grid,) = tables(inspector(opened, "pool1"))
    assert np.array(grid["rows"]).shape == (kh, kw)
    for u in range(kh):
        for v in range(kw):
            assert_prints(grid["rows"][u][v], windowed[u, v], f"window[{u}][{v}]")
    assert np.argwhere(np.array(grid["marked"])).tolist() == [list(np.unravel_index(windowed.argmax(), windowed.shape))]
    marked = inspector(opened, "pool1").locator("mark")
    expect(marked).to_have_count(1)
    assert_prints(marked.inner_text(), pooled[k, r, c], "the marked maximum")
    assert_prints(header_value(opened, "pool1"), pooled[k, r, c], "pool1 value in the JSON")


# --- 3. receptive fields -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def depends_on():
    """Which input pixels one cell of a layer depends on, found by autograd through FashionCNN's own layers.

    Max pooling sends a gradient to its winner only, so each MaxPool2d is replaced by the average over
    the same window; conv weights are made positive and biases zero, so no contribution cancels out.
    Returns the clipped rows and columns (first, last, 0-based) of the non-zero gradient.
    """
    torch.manual_seed(0)
    model = FashionCNN()
    layers = []
    for name, child in model.named_children():
        if isinstance(child, nn.MaxPool2d):
            child = nn.AvgPool2d(child.kernel_size, child.stride, child.padding)
        elif isinstance(child, nn.Conv2d):
            with torch.no_grad():
                child.weight.uniform_(0.5, 1.0)
                child.bias.zero_()
        layers.append((name, child))

    def cells(layer_id, r, c):
        x = torch.ones(1, *model.input_shape, dtype=torch.float64, requires_grad=True)
        y = x
        for name, child in layers:
            y = child.double()(y)
            if name == layer_id:
                break
        y[0, 0, r, c].backward()
        used = x.grad[0].abs().sum(0) > 0
        rows, cols = torch.nonzero(used.any(1)).ravel(), torch.nonzero(used.any(0)).ravel()
        assert used[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all(), "the field is not a rectangle"
        return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    return cells


@pytest.mark.parametrize("layer_id", ["conv1", "pool1", "conv2", "pool2"])
def test_selected_cell_outlines_its_receptive_field_on_the_input(opened, network_json, depends_on, layer_id):
    """The inspector names the N × N input patch a cell depends on and outlines it, as autograd finds it."""
    _, rows, cols = layer_of(network_json, layer_id)["shape"]
    _, height, width = layer_of(network_json, "input")["shape"]
    top, bottom, left, right = depends_on(layer_id, rows // 2, cols // 2)
    size = bottom - top + 1
    assert right - left + 1 == size and 0 < top and bottom < height - 1, "the centre's field should fit the image"
    print(f"{layer_id}: autograd finds a {size} × {size} receptive field")

    for r, c in ((rows // 2, cols // 2), (0, 0), (rows - 1, cols - 1)):
        top, bottom, left, right = depends_on(layer_id, r, c)
        click_cell(opened, layer_id, r, c, rows, cols)
        expect(header(opened, layer_id)).to_contain_text(f"row {r + 1}, column {c + 1}:")
        field = inspector(opened, layer_id).locator(".lw-receptive")
        said = re.search(r"a (\d+) × (\d+) patch of the input: rows (\d+)–(\d+), columns (\d+)–(\d+)",
                         field.inner_text())
        assert said, field.inner_text()
        assert [int(g) for g in said.groups()] == [size, size, top + 1, bottom + 1, left + 1, right + 1], (r, c)
        cursor = field.locator(".lw-field .lw-cursor")
        expect(cursor).to_be_visible()
        assert cursor_box(cursor) == pytest.approx([100 * top / height, 100 * left / width,
                                                    100 * (bottom - top + 1) / height,
                                                    100 * (right - left + 1) / width], abs=1e-3), (r, c)
    expect(field.locator(".lw-field img")).to_have_attribute("src", re.compile(r"input-0\.png$"))


# --- 4. learned filters --------------------------------------------------------------------------

def tiled(weights):
    """Where each (channel, u, v) weight of one filter sits in its picture: one kernel for a single
    channel, else a near-square grid of kernels with a one-pixel gap; returns (height, width, places)."""
    channels, h, w = weights.shape
    cols = math.ceil(math.sqrt(channels))
    rows = math.ceil(channels / cols)
    places = {(ch, u, v): ((ch // cols) * (h + 1) + u, (ch % cols) * (w + 1) + v)
              for ch in range(channels) for u in range(h) for v in range(w)}
    return rows * (h + 1) - 1, cols * (w + 1) - 1, places


@pytest.mark.parametrize("layer_id", ["conv1", "conv2"])
def test_each_filter_picture_has_the_weights_signs(opened, site, network_json, layer_id):
    """Every map has its filter beside it: a PNG of the right size, red where a weight is positive, blue where not."""
    weight, _ = conv_weights(network_json, layer_id)
    bound = float(weight.abs().max())
    items = opened.locator(f"#fig-{layer_id} .lw-maps > li")
    expect(items).to_have_count(weight.shape[0])
    for k, item in enumerate(items.all()):
        image = item.locator(".lw-kernel img")
        expect(image).to_have_count(1)
        alt = image.get_attribute("alt")
        assert re.search(rf"\b{layer_id}\b", alt) and f"Filter {k + 1} " in alt, alt
        height, width, places = tiled(weight[k].numpy())
        pixels = np.asarray(Image.open(site / image.get_attribute("src")).convert("RGB"), dtype=int)
        assert pixels.shape[:2] == (height, width), f"filter {k + 1}: picture is {pixels.shape[1]}×{pixels.shape[0]}"
        for (ch, u, v), (y, x) in places.items():
            w = float(weight[k, ch, u, v])
            red, _, blue = pixels[y, x]
            if w > 0.05 * bound:
                assert red > blue, f"filter {k + 1}, weight {ch},{u},{v} = {w:.3f} is not on the red side"
            elif w < -0.05 * bound:
                assert blue > red, f"filter {k + 1}, weight {ch},{u},{v} = {w:.3f} is not on the blue side"

    shown_now = opened.locator(f"#fig-{layer_id} .lw-maps > li.is-current")
    shown_now.scroll_into_view_if_needed()
    kernel, surface = shown_now.locator(".lw-kernel img"), shown_now.locator(".lw-surface")
    expect(kernel).to_be_visible()
    wait_for_images(shown_now)
    height, width, _ = tiled(weight[0].numpy())
    assert kernel.evaluate("img => [img.naturalHeight, img.naturalWidth]") == [height, width]
    assert kernel.bounding_box()["x"] >= surface.bounding_box()["x"] + surface.bounding_box()["width"] - 1, \
        "the filter is not beside its map"


# --- 5. flatten ----------------------------------------------------------------------------------

def test_flatten_element_points_at_its_pool2_cell(opened, network_json, first):
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
        cursor = current_surface(opened, "pool2").locator(".lw-cursor")
        expect(cursor).to_be_visible()
        assert cursor_box(cursor) == pytest.approx([100 * r / height, 100 * c / width, 100 / height, 100 / width],
                                                   abs=1e-3)
        expect(current_surface(opened, "pool2").locator("img")).to_have_attribute(
            "src", re.compile(rf"/pool2-{ch}\.png$"))


# --- 6. the output -------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["first", "misclassified"])
def test_output_shows_softmax_probabilities_with_predicted_and_true_marked(opened, input_records, which):
    """fc2's table has one labelled meter per class at softmax(logits), the predicted and the true class marked."""
    record = input_records[0]
    if which == "misclassified":
        if not wrong_inputs(input_records):
            pytest.skip("no misclassified input in the content (see test_content_offers_a_misclassified_input)")
        record = wrong_inputs(input_records)[0]
        opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    probabilities = softmax(record["logits"])
    rows = opened.locator("#fig-fc2 tbody tr")
    expect(rows).to_have_count(len(record["classes"]))
    expect(rows.nth(predicted(record))).to_have_class(re.compile(r"\bis-predicted\b"))
    expect(opened.locator("#fig-fc2 tr.is-predicted")).to_have_count(1)
    expect(rows.nth(record["label"])).to_have_class(re.compile(r"\bis-true\b"))
    expect(opened.locator("#fig-fc2 tr.is-true")).to_have_count(1)
    for c, (row, name) in enumerate(zip(rows.all(), record["classes"])):
        expect(row.locator("th")).to_have_text(name)
        assert row.locator("meter").evaluate("m => m.value") == pytest.approx(probabilities[c], abs=2e-4)
        percent = float(row.locator(".lw-value").nth(1).inner_text().rstrip("%"))
        assert percent == pytest.approx(100 * probabilities[c], abs=0.051)
    marks = rows.nth(predicted(record)).locator("th").evaluate("th => getComputedStyle(th, '::after').content")
    assert "predicted" in marks
    true_mark = rows.nth(record["label"]).locator("th").evaluate("th => getComputedStyle(th, '::before').content")
    assert "\u2713" in true_mark


def test_softmax_formula_is_mathml(opened):
    """The softmax formula is rendered MathML: a fraction of e to the logit over a sum of exponentials."""
    formula = opened.locator("math[display=block]").filter(
        has=opened.locator("mfrac > :first-child msup > mi:text-is('e')")).filter(has_text="\u2211")
    expect(formula).to_have_count(1)
    expect(formula).to_be_visible()
    assert formula.bounding_box()["height"] > 20
    assert "\\frac" not in opened.locator("article").inner_text()


# --- 7. the model summary ------------------------------------------------------------------------

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


# --- 8. training -----------------------------------------------------------------------------------

@pytest.mark.parametrize("chart", ["training", "confusion"])
def test_training_chart_loads(opened, chart):
    """charts/<name>.svg is an image that loads (200, SVG) and renders with a caption."""
    image = opened.locator(f'.lw-figure img[src="charts/{chart}.svg"]')
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    opened.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    response = opened.request.get(image.evaluate("img => img.currentSrc"))
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    expect(image.locator("xpath=ancestor::figure//figcaption")).to_contain_text("Figure")


def test_stated_test_accuracy_is_the_recorded_one(opened, committed_metrics):
    """Every percentage said of the test images equals model/metrics.json's test_accuracy at its precision."""
    accuracy = committed_metrics["test_accuracy"]
    text = " ".join(opened.locator("body").inner_text().split())
    statements = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if "test images" in s and "%" in s]
    stated = [p for s in statements for p in re.findall(r"(\d+(?:\.\d+)?)%", s)]
    assert len(stated) >= 2, f"the accuracy is not stated: {statements}"
    for p in stated:
        decimals = len(p.partition(".")[2])
        assert p == f"{100 * accuracy:.{decimals}f}", f"page says {p}%, metrics.json {100 * accuracy}%"


def test_picker_marks_exactly_the_misclassified_inputs(opened, input_records):
    """The picker's 'misclassified' marks are the inputs whose largest logit is not their label."""
    wrong = {r["id"] for r in wrong_inputs(input_records)}
    marked = {label.locator("input").get_attribute("value") for label in opened.locator(".lw-choice.is-wrong").all()}
    assert marked == wrong
    expect(opened.get_by_role("radio", name=re.compile("misclassified"))).to_have_count(len(wrong))


def test_content_offers_a_misclassified_input(input_records):
    """The article promises a misclassified image in the picker; the content must provide one."""
    assert wrong_inputs(input_records), \
        "no input is misclassified by the committed model: add one to content/article.md's inputs"


def test_live_values_follow_the_input_and_sit_in_their_sentence(opened, input_records):
    """The article's live values name the chosen input's prediction and label, with no space before punctuation."""
    record = wrong_inputs(input_records)[0] if wrong_inputs(input_records) else input_records[-1]
    opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    expect(opened.locator('[data-live="predicted_name"]').first).to_have_text(record["classes"][predicted(record)])
    expect(opened.locator('[data-live="label_name"]').first).to_have_text(record["label_name"])
    stray = opened.evaluate("""() => [...document.querySelectorAll('.lw-live')]
        .map(e => e.textContent + (e.nextSibling ? e.nextSibling.textContent.slice(0, 3) : ''))
        .filter(text => /\\s[.,;:!?]/.test(text))""")
    assert stray == [], f"a space before punctuation after a live value: {stray}"


# --- 9. deep links -------------------------------------------------------------------------------

def test_deep_link_restores_the_input_and_the_map(page, server, input_records, network_json):
    """index.html#input=<id>&conv1=5 checks that input, shows its frames and conv1's map 5."""
    record, maps_count = input_records[3], layer_of(network_json, "conv1")["shape"][0]
    open_page(page, server, f"#input={record['id']}&conv1=5")
    expect(page.locator(".lw-picker input:checked")).to_have_value(record["id"])
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(f"5 / {maps_count}")
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute(
        "src", f"frames/{record['id']}/conv1-4.png")
    expect(page.locator("#fig-input .lw-surface img")).to_have_attribute("src", f"frames/{record['id']}/input-0.png")


def test_deep_link_by_position_selects_that_input(page, server, input_records):
    """#input=3 selects the third input of the picker."""
    open_page(page, server, "#input=3")
    expect(page.locator(".lw-picker input:checked")).to_have_value(input_records[2]["id"])
    expect(page.locator(".lw-picker input[name=input]").nth(2)).to_be_checked()
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute(
        "src", f"frames/{input_records[2]['id']}/conv1-0.png")


def test_stepping_a_carousel_writes_the_fragment_and_a_reload_restores_it(opened, first, network_json):
    """Next on conv1 and pool1 puts input, conv1 and pool1 in the URL; reloading that URL shows the same maps."""
    opened.locator("#fig-conv1 .lw-next").click()
    opened.locator("#fig-conv1 .lw-next").click()
    opened.locator("#fig-pool1 .lw-next").click()
    expect(opened).to_have_url(re.compile(r"#.*pool1=2"))
    state = parse_qs(urlsplit(opened.url).fragment)
    assert state == {"input": [first["id"]], "conv1": ["3"], "pool1": ["2"]}
    opened.reload()
    expect(opened.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^3 / "))
    expect(opened.locator("#fig-pool1 .lw-counter")).to_have_text(re.compile(r"^2 / "))


# --- 10. accessibility ---------------------------------------------------------------------------

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const opacity = n => n ? +getComputedStyle(n).opacity * opacity(n.parentElement) : 1;
  const path = n => n === document.body ? 'body'
    : `${path(n.parentElement)}>${n.tagName.toLowerCase()}:${[...n.parentElement.children].indexOf(n)}`;
  const ring = opacity(e) > 0 ? e : e.nextElementSibling;  // a hidden radio shows its focus on its image
  const s = getComputedStyle(ring), box = ring.getBoundingClientRect();
  const kind = e.matches('.lw-picker input[type=radio]') ? 'radio' : e.matches('.lw-carousel') ? 'carousel'
    : e.matches('.lw-maps .lw-surface') ? 'map' : e.matches('.lw-surface') ? 'surface'
    : e.matches('.lw-prev, .lw-next') ? 'step' : e.matches('.lw-inspector button') ? 'channel'
    : e.tagName.toLowerCase();
  return { kind, path: path(e), outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
           opacity: opacity(ring), area: box.width * box.height,
           name: e.getAttribute('aria-label') || e.textContent.trim().slice(0, 40) };
}"""


def tab_to(page, kind, limit=300):
    """Press Tab until an element of `kind` (see FOCUSED) has the focus; return its description."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused and focused["kind"] == kind:
            return focused
    raise AssertionError(f"Tab never reached a {kind}")


def test_keyboard_walk_reaches_every_control_with_a_visible_focus_ring(opened):
    """Tab visits the picker, carousels, maps, other surfaces, step and channel buttons, each with an outline."""
    walk = []
    for _ in range(400):
        opened.keyboard.press("Tab")
        focused = opened.evaluate(FOCUSED)
        if focused is None or (walk and focused["path"] == walk[0]["path"]):
            break
        if focused["kind"] == "step" and walk[-1]["kind"] == "step" and not any(w["kind"] == "back" for w in walk):
            opened.keyboard.press("Shift+Tab")
            assert opened.evaluate(FOCUSED)["path"] == walk[-1]["path"], "Shift+Tab does not go back one stop"
            walk.append(dict(walk[-1], kind="back"))
            opened.keyboard.press("Tab")
        walk.append(focused)
    kinds = {w["kind"] for w in walk}
    assert {"radio", "carousel", "map", "surface", "step", "channel", "back", "a"} <= kinds, kinds
    invisible = [w for w in walk if w["outline"] == "none" or w["width"] <= 0 or w["opacity"] == 0 or w["area"] == 0]
    assert invisible == [], f"focused without a visible outline: {invisible}"


def test_keyboard_alone_chooses_the_input_steps_maps_and_inspects_values(opened, input_records):
    """Arrows on the picker change input, arrows and Space step a carousel, arrows move a map's selection."""
    tab_to(opened, "radio")
    opened.keyboard.press("ArrowRight")
    expect(opened.locator(".lw-picker input:checked")).to_have_value(input_records[1]["id"])
    expect(current_surface(opened, "conv1").locator("img")).to_have_attribute(
        "src", f"frames/{input_records[1]['id']}/conv1-0.png")

    tab_to(opened, "carousel")
    opened.keyboard.press("ArrowRight")
    counter = opened.locator("#fig-conv1 .lw-counter")
    expect(counter).to_have_text(re.compile(r"^2 / "))
    tab_to(opened, "map")
    expect(header(opened, "conv1")).to_contain_text("map 2, row 1, column 1")
    opened.keyboard.press("ArrowDown")
    expect(header(opened, "conv1")).to_contain_text("map 2, row 2, column 1")
    assert tab_to(opened, "step")["name"].startswith("Previous")
    opened.keyboard.press("Tab")
    opened.keyboard.press("Space")
    expect(counter).to_have_text(re.compile(r"^3 / "))
    opened.keyboard.press("Shift+Tab")
    opened.keyboard.press("Enter")
    expect(counter).to_have_text(re.compile(r"^2 / "))


def picker_bottom(page):
    return page.evaluate("document.querySelector('.lw-picker').getBoundingClientRect().bottom")


@pytest.mark.parametrize("link", ['article a[href="#fig-conv1"]', '.lw-toc a[href="#pool1"]'])
def test_a_followed_link_lands_below_the_sticky_picker(opened, link):
    """Following a link to a figure or a section scrolls its target clear of the sticky input picker."""
    opened.locator(link).first.click()
    target = opened.locator(opened.locator(link).first.get_attribute("href"))
    expect(opened).to_have_url(re.compile(re.escape(opened.locator(link).first.get_attribute("href")) + "$"))
    assert target.bounding_box()["y"] >= picker_bottom(opened) - 1, "the target is under the sticky picker"


def test_focus_moving_backwards_stays_clear_of_the_sticky_picker(opened):
    """Shift+Tab from the end of the article to the picker never puts the focused control behind the sticky picker."""
    opened.locator(".lw-reproduce a").last.focus()
    hidden = []
    for _ in range(300):
        opened.keyboard.press("Shift+Tab")
        focused = opened.evaluate(FOCUSED)
        if focused is None or focused["kind"] == "radio":
            break
        top = opened.evaluate("document.activeElement.getBoundingClientRect().top")
        if top < picker_bottom(opened) - 1:
            hidden.append(f"{focused['kind']} {focused['name']!r}")
    assert hidden == [], f"focused while (partly) behind the sticky picker: {hidden}"


def test_carousel_counters_are_polite_live_regions(opened, network_json):
    """Every carousel's counter is aria-live=polite, one per layer with several maps."""
    layers = [l for l in network_json["layers"] if len(l["shape"]) == 3 and l["shape"][0] > 1]
    counters = opened.locator(".lw-carousel .lw-counter")
    expect(counters).to_have_count(len(layers))
    for counter in counters.all():
        expect(counter).to_have_attribute("aria-live", "polite")


def test_status_region_is_exposed_before_any_change(opened):
    """The role=status region is in the accessibility tree from the start, so its first message is announced."""
    expect(opened.get_by_role("status")).to_have_count(1)


def test_status_region_announces_the_chosen_input(opened, input_records):
    """Choosing an input writes its label and the network's prediction into the role=status region."""
    record = wrong_inputs(input_records)[0] if wrong_inputs(input_records) else input_records[-1]
    opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    status = opened.locator("[role=status]")
    expect(status).to_contain_text(record["label_name"])
    expect(status).to_contain_text(f"predicted {record['classes'][predicted(record)]}")
    confidence = re.search(r"([\d.]+)%", status.inner_text()).group(1)
    assert float(confidence) == pytest.approx(100 * softmax(record["logits"]).max(), abs=0.051)


@pytest.mark.parametrize("which", [0, -1])
def test_map_alt_texts_name_the_layer_the_map_and_its_range(opened, input_records, network_json, which):
    """Each map's (and strip's) alt says its layer, which map and its min and max, for the first input and another."""
    record = input_records[which]
    if which:
        opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
        expect(current_surface(opened, "conv1").locator("img")).to_have_attribute("src", re.compile(record["id"]))
    wrong = []
    for layer in (l for l in network_json["layers"] if l["id"] != network_json["layers"][-1]["id"]):
        values = maps(record, layer["id"])
        values = values if values.ndim == 3 else values[None]  # a vector figure is one picture
        images = opened.locator(f"#fig-{layer['id']} .lw-surface > img")
        expect(images).to_have_count(len(values))
        for k, alt in enumerate(images.evaluate_all("images => images.map(i => i.alt)")):
            which_map = rf", map {k + 1} of {len(values)}," if len(layer["shape"]) == 3 else rf": {values.size}"
            said = re.match(rf"{layer['id']}{which_map} values from (\S+) to (\S+?),?( |$)", alt)
            assert said, alt
            try:  # the build words the first input's alts from unrounded values, the script from the JSON
                assert_prints(said.group(1), values[k].min(), f"{layer['id']} map {k + 1} minimum", rounded=True)
                assert_prints(said.group(2), values[k].max(), f"{layer['id']} map {k + 1} maximum", rounded=True)
            except AssertionError as error:
                wrong.append(f"{alt!r}: {error}")
    assert wrong == [], f"alt texts that do not fit {record['id']}:\n" + "\n".join(wrong)


def test_reduced_motion_means_nothing_moves(new_context, server):
    """With prefers-reduced-motion, no element animates or transitions, and the carousel still steps."""
    page = new_context(reduced_motion="reduce").new_page()
    open_page(page, server)
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")
    page.locator("#fig-conv1 .lw-next").click()
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^2 / "))
    assert page.evaluate("document.getAnimations().length") == 0
    moving = page.evaluate("""() => [...document.querySelectorAll('*')].filter(e => {
        const s = getComputedStyle(e);
        return s.animationName !== 'none' || s.transitionDuration.split(',').some(d => parseFloat(d) > 0);
      }).map(e => e.tagName + '.' + e.className)""")
    assert moving == []
    assert page.evaluate("getComputedStyle(document.documentElement).scrollBehavior") == "auto"


TEXT_COLOURS = """() => {
  const rgba = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const over = (top, bottom) => { const a = top[3] ?? 1; return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)); };
  const backdrop = e => {  // composite the backgrounds from the element up to the page
    const layers = [];
    for (let n = e; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c.length && (c[3] ?? 1) > 0) { layers.push(c); if ((c[3] ?? 1) >= 1) break; }
    }
    return layers.reverse().reduce((under, c) => over(c, under), [255, 255, 255]);
  };
  const seen = n => n ? +getComputedStyle(n).opacity > 0 && seen(n.parentElement) : true;
  return [...document.body.querySelectorAll('*')]
    .filter(e => [...e.childNodes].some(t => t.nodeType === 3 && t.textContent.trim()))
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility === 'visible' && seen(e))
    .map(e => ({ what: `${e.tagName.toLowerCase()}.${e.className || ''} "${e.textContent.trim().slice(0, 30)}"`,
                 colour: rgba(getComputedStyle(e).color), background: backdrop(e) }));
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_has_enough_contrast(new_context, server, network_json, scheme):
    """In both colour schemes every visible text, inspector included, has contrast ≥ 4.5; dark is really dark."""
    page = new_context(color_scheme=scheme).new_page()
    open_page(page, server)
    page.locator(".lw-picker input[name=input]").nth(1).check()
    expect(page.locator("[role=status]")).not_to_be_empty()
    select(page, network_json, "pool1", 0, 3, 3)
    select(page, network_json, "conv1", 0, 5, 5)
    paper = rgb(page.evaluate("getComputedStyle(document.body).backgroundColor"))
    if scheme == "dark":
        assert luminance(paper) < 0.05, f"the dark page's background is {paper}"
    else:
        assert luminance(paper) > 0.8
    low = [(t["what"], round(contrast(t["colour"], t["background"]), 2))
           for t in page.evaluate(TEXT_COLOURS) if contrast(t["colour"], t["background"]) < 4.5]
    assert low == [], f"text below 4.5:1 in the {scheme} scheme: {low}"


def test_no_horizontal_scrolling_on_a_375_pixel_screen(new_context, server, network_json):
    """At 375 px wide the page never scrolls sideways: on load, with every figure loaded, with inspectors open."""
    page = new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True).new_page()
    open_page(page, server)

    def overflow():
        # A phone zooms out to show content wider than the screen, which widens innerWidth;
        # the layout viewport (clientWidth) stays 375, so compare with both.
        sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth, "
                              "innerWidth]")
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .filter(e => { for (let p = e.parentElement; p; p = p.parentElement)
                             if (getComputedStyle(p).overflowX !== 'visible') return false;
                           return true; })
            .filter(e => !e.parentElement.closest('table'))
            .map(e => `${e.tagName.toLowerCase()}.${e.className} (${e.getBoundingClientRect().right} px)`)""")
        return sizes, wide

    sizes, wide = overflow()
    assert sizes[0] <= sizes[1] and sizes[2] <= 375, f"scrollWidth, clientWidth, innerWidth = {sizes}; too wide: {wide}"
    for figure in page.locator(".lw-figure").all():
        figure.scroll_into_view_if_needed()
        wait_for_images(figure)
    select(page, network_json, "conv2", 0, 5, 5)
    inspector(page, "conv2").locator('button[data-channel="3"]').click()
    select(page, network_json, "conv1", 0, 0, 0)
    sizes, wide = overflow()
    assert sizes[0] <= sizes[1] and sizes[2] <= 375, f"scrollWidth, clientWidth, innerWidth = {sizes}; too wide: {wide}"


def test_a_horizontal_swipe_changes_the_map(new_context, server):
    """A touch swipe of 80 px left shows the next map, right the previous; a vertical one changes nothing."""
    page = new_context(viewport={"width": 412, "height": 823}, is_mobile=True, has_touch=True).new_page()
    open_page(page, server)
    carousel, counter = page.locator("#fig-conv1 .lw-carousel"), page.locator("#fig-conv1 .lw-counter")
    carousel.scroll_into_view_if_needed()
    box = current_surface(page, "conv1").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def swipe(dx, dy):
        target = current_surface(page, "conv1")
        touch = dict(pointerType="touch", isPrimary=True, pointerId=7, bubbles=True)
        target.dispatch_event("pointerdown", dict(touch, clientX=x, clientY=y))
        target.dispatch_event("pointerup", dict(touch, clientX=x + dx, clientY=y + dy))

    swipe(-80, 6)
    expect(counter).to_have_text(re.compile(r"^2 / "))
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute("src", re.compile(r"conv1-1\.png$"))
    swipe(80, -6)
    expect(counter).to_have_text(re.compile(r"^1 / "))
    swipe(10, 90)
    swipe(-60, -5)
    expect(counter).to_have_text(re.compile(r"^2 / "))


# --- 13. screenshots -----------------------------------------------------------------------------

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
    wait_for_images(figure)
    page.mouse.move(0, 0)
    figure.screenshot(path=ARTIFACTS / f"figure2-{width}.png")
    assert (ARTIFACTS / f"figure2-{width}.png").stat().st_size > 0


def test_choosing_an_input_after_inspecting_a_value_updates_every_figure(opened, network_json, input_records):
    """With an inspector open (and its small input image inside the figure), picking another input
    still updates the outputs, the alt texts and the URL, without a script error."""
    select(opened, network_json, "conv1", 0, 10, 10)
    expect(inspector(opened, "conv1")).to_be_visible()
    chosen = input_records[-1]
    opened.locator(f'.lw-picker input[value="{chosen["id"]}"]').check()
    expect(opened.locator("#fig-fc2 tbody tr.is-predicted th")).to_contain_text(
        chosen["classes"][predicted(chosen)])
    expect(inspector(opened, "conv1")).to_be_hidden()
    low, high = chosen["exact"]["conv1"][0].min(), chosen["exact"]["conv1"][0].max()
    alt = current_surface(opened, "conv1").locator("img").get_attribute("alt")
    assert alt == f"conv1, map 1 of {len(chosen['exact']['conv1'])}, values from {printed(low)} to {printed(high)}"
    assert f"input={chosen['id']}" in opened.url
    assert opened.errors == []
