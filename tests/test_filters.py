"""The learned filters beside their maps, in a real Chromium: one picture per filter, at the contract's
URL, with every weight on the side of the colour scale its sign says.

    .venv/bin/python -m pytest tests/test_filters.py
"""
import math
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from oracle import conv_weights
from reader_helpers import layer_of, wait_for_images


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
def test_each_filter_picture_has_the_weights_signs(opened, site, site_url, network_json, layer_id):
    """Every map has its filter beside it: a PNG of the right size, red where a weight is positive, blue where not."""
    weight, _ = conv_weights(site, layer_of(network_json, layer_id))
    bound = float(weight.abs().max())
    items = opened.locator(f"#fig-{layer_id} .lw-maps > li")
    expect(items).to_have_count(weight.shape[0])
    for k, item in enumerate(items.all()):
        image = item.locator(".lw-kernel img")
        expect(image).to_have_count(1)
        expect(image).to_have_attribute("src", site_url("kernel", layer=layer_id, k=k))
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
