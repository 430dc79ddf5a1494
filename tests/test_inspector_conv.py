"""The convolution inspector in a real Chromium: a selected conv value's patch, kernel, products, bias
and sum, checked against torch's conv2d on the published numbers (tests/oracle.py).

    .venv/bin/python -m pytest tests/test_inspector_conv.py
"""
import re

import numpy as np
import torch
from playwright.sync_api import expect

from conftest import CHECKPOINT
from oracle import conv_at, conv_weights, window
from reader_helpers import (assert_prints, choose, close, current_surface, cursor_selector, expect_box, header,
                            header_value, inspector, layer_of, maps, said, select, tables)


def check_single_channel_sum(page, site, network_json, record, layer_id, k, r, c):
    """The inspector of a one-channel conv value shows patch × kernel = products, the bias and the sum."""
    layer = layer_of(network_json, layer_id)
    before = layer_of(network_json, layer["inputs"][0])
    weight, bias = conv_weights(site, layer)
    (kh, kw), (ph, pw), (sh, sw) = layer["kernel_size"], layer["padding"], layer["stride"]
    patch = window(maps(record, before["id"])[0], r * sh - ph, c * sw - pw, kh, kw)
    kernel = weight[k, 0].numpy()
    products = patch * kernel
    value = maps(record, layer_id)[k, r, c]
    total = conv_at(site, layer, maps(record, before["id"]), k, r, c)

    panel = inspector(page, layer_id)
    expect(panel).to_be_visible()
    expect(panel.locator("table")).to_have_count(3)
    shown_patch, shown_kernel, shown_products = tables(panel)
    assert shown_patch["caption"].startswith(before["id"])
    assert (shown_kernel["caption"], shown_products["caption"]) == ("kernel", "products")
    for name, grid, expected in (("patch", shown_patch, patch), ("kernel", shown_kernel, kernel),
                                 ("products", shown_products, products)):
        assert np.array(grid["rows"]).shape == (kh, kw), name
        for u in range(kh):
            for v in range(kw):
                assert_prints(grid["rows"][u][v], expected[u, v], f"{name}[{u}][{v}]")

    sum_text = said(panel, rf"Sum of the {kh * kw} products(?:: | ≈ )(\S+)").group(1)
    assert_prints(sum_text, products.sum(), "sum of the products")
    line = said(panel, r"(\S+) \+ bias (\S+) = (\S+), the value shown")
    assert_prints(line.group(2), float(bias[k]), "bias")
    assert_prints(line.group(3), total, "the sum plus the bias, against torch's conv2d on the published numbers")
    assert_prints(header_value(page, layer_id), value, f"{layer_id} value in {record['id']}'s data file")
    assert close(value, total, np.abs(products).sum() + abs(float(bias[k]))), \
        "the published value is not the convolution of the published input and weights"


def test_conv1_inspector_shows_patch_kernel_products_bias_and_sum(opened, site, network_json, first):
    """Clicking a conv1 pixel shows its 3×3 patch, kernel, products, bias and sum, equal to the JSON value."""
    k = 2
    values = maps(first, "conv1")[k, 1:-1, 1:-1]
    r, c = (int(i) + 1 for i in np.unravel_index(np.abs(values).argmax(), values.shape))  # an interior pixel
    select(opened, network_json, "conv1", k, r, c)
    check_single_channel_sum(opened, site, network_json, first, "conv1", k, r, c)
    _, rows, cols = layer_of(network_json, "conv1")["shape"]
    expect_box(opened, cursor_selector(opened, "conv1"), [100 * r / rows, 100 * c / cols, 100 / rows, 100 / cols])
    assert opened.errors == []


def test_conv1_inspector_follows_the_arrow_keys_and_pads_with_zeros(opened, site, network_json, first):
    """Focusing a conv1 map selects its corner (zero padding shown); arrows move the selection, not the map."""
    surface = current_surface(opened, "conv1")
    surface.focus()
    expect(header(opened, "conv1")).to_contain_text("conv1, map 1, row 1, column 1:")
    check_single_channel_sum(opened, site, network_json, first, "conv1", 0, 0, 0)
    patch = tables(inspector(opened, "conv1"))[0]["rows"]
    assert [row[0] for row in patch] == ["0"] * len(patch) and set(patch[0]) == {"0"}, "the padding is not zeros"

    for key in ("ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowLeft"):
        opened.keyboard.press(key)
    expect(header(opened, "conv1")).to_contain_text("conv1, map 1, row 3, column 3:")
    check_single_channel_sum(opened, site, network_json, first, "conv1", 0, 2, 2)
    expect(opened.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^1 / "))


def test_conv1_inspector_uses_the_chosen_inputs_numbers(opened, site, network_json, input_records, site_url):
    """After choosing another input, a conv1 pixel's arithmetic and value come from that input's data."""
    record = input_records[-1]
    choose(opened, record, site_url)
    select(opened, network_json, "conv1", 5, 14, 9)
    check_single_channel_sum(opened, site, network_json, record, "conv1", 5, 14, 9)


def test_conv2_inspector_adds_one_contribution_per_input_map(opened, site, network_json, first):
    """A conv2 value is the sum of one contribution per pool1 map plus the bias; a map's button opens its 3×3."""
    k, r, c = 4, 6, 7
    layer, pool1 = layer_of(network_json, "conv2"), maps(first, "pool1")
    weight, bias = conv_weights(site, layer)
    channels = weight.shape[1]
    parts = [conv_at(site, layer, pool1, k, r, c, channels=[ch]) for ch in range(channels)]
    value, total = maps(first, "conv2")[k, r, c], conv_at(site, layer, pool1, k, r, c)
    select(opened, network_json, "conv2", k, r, c)

    panel = inspector(opened, "conv2")
    buttons = panel.locator("button[data-channel]")
    expect(buttons).to_have_count(channels)
    for ch in range(channels):
        button = panel.locator(f'button[data-channel="{ch}"]')
        assert_prints(button.inner_text(), parts[ch], f"contribution of pool1 map {ch + 1}")
        assert button.get_attribute("aria-label").startswith(f"pool1 map {ch + 1}:")
    line = said(panel, r"Total (\S+) \+ bias (\S+) = (\S+), the value shown")
    assert_prints(line.group(1), sum(parts), "sum of the contributions")
    assert_prints(line.group(2), float(bias[k]), "bias")
    assert_prints(line.group(3), total, "the total plus the bias, against torch's conv2d on the published numbers")
    assert close(value, total, conv_at(site, layer, pool1, k, r, c, magnitude=True))
    assert_prints(header_value(opened, "conv2"), value, "conv2 value in the JSON")

    ch = 9
    panel.locator(f'button[data-channel="{ch}"]').click()
    detail = panel.locator(".lw-detail")
    expect(detail.locator("table")).to_have_count(3)
    patch, kernel, products = tables(detail)
    assert patch["caption"] == f"pool1 map {ch + 1}"
    expected_patch = window(pool1[ch], r - 1, c - 1, 3, 3)
    expected_kernel = weight[k, ch].numpy()
    for u in range(3):
        for v in range(3):
            assert_prints(patch["rows"][u][v], expected_patch[u, v], f"patch[{u}][{v}]")
            assert_prints(kernel["rows"][u][v], expected_kernel[u, v], f"kernel[{u}][{v}]")
            assert_prints(products["rows"][u][v], expected_patch[u, v] * expected_kernel[u, v], f"product[{u}][{v}]")
    assert_prints(said(detail, r"Sum of the 9 products(?:: | ≈ )(\S+)").group(1), parts[ch], "detail sum")
    assert opened.errors == []


def test_conv_weights_are_published_as_the_checkpoint_holds_them(site, network_json):
    """The conv weights and biases the inspector multiplies (data/weights/<layer>.f32) are the checkpoint's,
    exactly, and network.json no longer repeats them."""
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    for layer in (layer for layer in network_json["layers"] if layer["type"] == "Conv2d"):
        weight, bias = conv_weights(site, layer)
        assert np.array_equal(weight.numpy(), state[f"{layer['id']}.weight"].double().numpy())
        assert np.array_equal(bias.numpy(), state[f"{layer['id']}.bias"].double().numpy())
        assert "weight" not in layer and "bias" not in layer
