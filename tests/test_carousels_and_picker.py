"""The built page in a real Chromium: carousels, the input picker, progressive enhancement.

    .venv/bin/python -m pytest tests/test_carousels_and_picker.py
"""
import re

import pytest
from playwright.sync_api import expect

from conftest import foreign_requests
from reader_helpers import wait_for_images


@pytest.fixture(scope="module")
def conv1_maps(network_json):
    return next(layer for layer in network_json["layers"] if layer["id"] == "conv1")["shape"][0]


def shown_map(page):
    """The conv1 map the carousel currently shows: the first image of the only visible item."""
    return page.locator("#fig-conv1 .lw-maps > li").filter(visible=True).locator("img").first


@pytest.fixture(scope="module")
def map_src(site_url):
    """map_src(input_id, k): the src of conv1's map k for one input, as the contract lays the frames out."""
    return lambda input_id, k: re.compile(rf"(^|/){re.escape(site_url('map', input=input_id, layer='conv1', k=k))}$")


def other_input(summaries):
    """The first input the network labels differently from the page's first input."""
    return next(s for s in summaries[1:] if s["predicted"] != summaries[0]["predicted"])


def test_next_and_previous_step_through_the_maps_and_wrap_around(opened, summaries, conv1_maps, map_src):
    """Next shows map 2 of N, N clicks come back to 1 of N, Previous from 1 goes to N of N."""
    page, first = opened, summaries[0]["id"]
    figure = page.locator("#fig-conv1")
    counter = figure.locator(".lw-counter")
    next_button = figure.get_by_role("button", name=re.compile(r"^Next"))
    expect(counter).to_have_text(f"1 / {conv1_maps}")
    expect(shown_map(page)).to_have_attribute("src", map_src(first, 0))

    next_button.click()
    expect(counter).to_have_text(f"2 / {conv1_maps}")
    expect(page.locator("#fig-conv1 .lw-maps > li").filter(visible=True)).to_have_count(1)
    expect(shown_map(page)).to_have_attribute("src", map_src(first, 1))

    for _ in range(conv1_maps - 1):
        next_button.click()
    expect(counter).to_have_text(f"1 / {conv1_maps}")
    expect(shown_map(page)).to_have_attribute("src", map_src(first, 0))

    figure.get_by_role("button", name=re.compile(r"^Previous")).click()
    expect(counter).to_have_text(f"{conv1_maps} / {conv1_maps}")
    expect(shown_map(page)).to_have_attribute("src", map_src(first, conv1_maps - 1))
    assert opened.errors == []


def test_arrow_keys_step_through_a_focused_carousel(opened, conv1_maps):
    """With the carousel focused, ArrowRight advances and ArrowLeft goes back."""
    page = opened
    page.locator("#fig-conv1 .lw-carousel").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(f"2 / {conv1_maps}")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(f"1 / {conv1_maps}")


def test_choosing_another_input_changes_the_maps_and_the_outputs(opened, summaries, map_src):
    """Picking another image by its class name swaps conv1's map and fc2's logits, probabilities and prediction."""
    page, chosen = opened, other_input(summaries)
    page.get_by_role("radio", name=re.compile(re.escape(chosen["label_name"]))).check()

    expect(shown_map(page)).to_have_attribute("src", map_src(chosen["id"], 0))
    predicted = page.locator("#fig-fc2 tbody tr.is-predicted")
    expect(predicted).to_have_count(1)
    expect(predicted.locator("th")).to_have_text(chosen["classes"][chosen["predicted"]])
    rows = page.locator("#fig-fc2 tbody tr")
    expect(rows).to_have_count(len(chosen["classes"]))
    for row, logit, probability in zip(rows.all(), chosen["logits"], chosen["probabilities"]):
        expect(row.locator(".lw-value").nth(1)).to_have_text(f"{100 * probability:.1f}%")
        logit_text = row.locator(".lw-value").first.inner_text()
        assert float(logit_text.replace("\u2212", "-")) == pytest.approx(logit, rel=5e-3, abs=1e-3)
    assert opened.errors == []


def test_every_layer_has_a_visible_figure(opened, network_json):
    """All figures, one per layer, are on the page and visible."""
    page = opened
    layers = [layer["id"] for layer in network_json["layers"]]
    expect(page.locator(".lw-figure[data-layer]")).to_have_count(len(layers))
    assert len(layers) == 11
    for layer in layers:
        expect(page.locator(f"#fig-{layer}")).to_be_visible()


def test_no_console_error_and_nothing_fetched_from_another_host(opened, server, summaries, site_url, map_src):
    """Reading the whole page and switching input logs no error and requests only the local server."""
    page, chosen = opened, other_input(summaries)
    for figure in page.locator(".lw-figure").all():
        figure.scroll_into_view_if_needed()  # lazy images load only near the viewport
        wait_for_images(figure)
    page.get_by_role("radio", name=re.compile(re.escape(chosen["label_name"]))).check()
    expect(shown_map(page)).to_have_attribute("src", map_src(chosen["id"], 0))
    wait_for_images(page.locator("#fig-conv1 .lw-maps > li.is-current"))
    assert opened.errors == []
    assert foreign_requests(opened.requests, server) == []
    fetched = {url.removeprefix(server) for url in opened.requests}
    scripts = page.evaluate("[...document.querySelectorAll('script[src]')].map(s => s.getAttribute('src'))")
    assert scripts and {"index.html", site_url("inputs"), *scripts} <= fetched, fetched


def test_without_javascript_every_conv1_map_shows_in_a_grid(new_context, server, summaries, conv1_maps, map_src):
    """With scripting off, all of conv1's maps are visible at once, laid out in rows and columns."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(server + "index.html")
    maps = page.locator("#fig-conv1 .lw-maps > li")
    expect(maps).to_have_count(conv1_maps)
    boxes = []
    for k, item in enumerate(maps.all()):
        expect(item.locator("img").first).to_be_visible()
        expect(item.locator("img").first).to_have_attribute("src", map_src(summaries[0]["id"], k))
        boxes.append(item.bounding_box())
    assert len({round(b["x"]) for b in boxes}) > 1 and len({round(b["y"]) for b in boxes}) > 1
    assert len({(round(b["x"]), round(b["y"])) for b in boxes}) == conv1_maps, "no two maps overlap"
    expect(page.locator("#fig-conv1 .lw-controls")).to_be_hidden()
