"""The network at a glance (`![…](overview:)`) and the figure kinds of this feature, in a real Chromium
and in the build.

The overview must show every map of every layer for the chosen input: its canvases are read pixel
by pixel and compared with the published frames (for the author's inputs) or with the oracle's own
forward pass coloured by the contract's rule (for an input computed in the page). Pointing at a map
outlines what it is computed from, selecting it shows it in its figure, and without JavaScript the
figure is a grid of the same sheets. axe-core finds nothing with these figures open.

    .venv/bin/python -m pytest tests/test_overview.py
"""
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from builder.build import build
from builder.errors import BuildError
from conftest import CHECKPOINT, author_pixels, open_page, snapshot_state
from oracle import FASHION_CNN, forward, normalised
from reader_helpers import ARTIFACTS, choose, picker_bottom, predicted
from test_axe import AXE, violations

READ_OVERVIEW = """figure => [...figure.querySelectorAll('.lw-glance-map')].map(button => {
  const canvas = button.querySelector('canvas');
  return { layer: button.dataset.layer, k: Number(button.dataset.k), size: [canvas.height, canvas.width],
           rgba: [...canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data] };
})"""


def spatial(layer):
    return len(layer["shape"]) == 3


def frame(site, site_url, record_id, layer, k):
    """The published frame of map k (or a vector's strip) as RGBA."""
    url = site_url("map", input=record_id, layer=layer["id"], k=k) if spatial(layer) \
        else site_url("vector", input=record_id, layer=layer["id"])
    return np.asarray(Image.open(site / url).convert("RGBA"))


def shown_overview(page):
    """The overview once drawn: every map's canvas, {(layer, k): RGBA array}."""
    figure = page.locator("#fig-overview")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-glance-class.is-predicted")).to_have_count(1)
    return {(m["layer"], m["k"]): np.reshape(m["rgba"], (*m["size"], 4)) for m in figure.evaluate(READ_OVERVIEW)}


def expect_output(page, name):
    """Wait until the overview's probabilities mark `name` as the prediction."""
    expect(page.locator("#fig-overview .lw-glance-class.is-predicted > span").first).to_have_text(name)


def test_the_overview_shows_every_map_of_every_layer_and_follows_the_picker(
        page, server, site, site_url, network_json, input_records):
    """One button per map of every layer (one per vector), each drawing exactly its frame's pixels,
    for the first input and then for another chosen in the picker."""
    open_page(page, server)
    drawn = network_json["layers"][:-1]
    for record in (input_records[0], input_records[3]):
        if record is not input_records[0]:
            choose(page, record, site_url)
        shown_overview(page)
        expect_output(page, record["classes"][predicted(record)])
        shown = shown_overview(page)
        expected = {(layer["id"], k) for layer in drawn for k in range(layer["shape"][0] if spatial(layer) else 1)}
        assert set(shown) == expected
        wrong = [key for key, rgba in shown.items()
                 if not np.array_equal(rgba, frame(site, site_url, record["id"], *(
                     next(layer for layer in drawn if layer["id"] == key[0]), key[1])))]
        assert wrong == [], f"{record['id']}: maps that are not their frames: {wrong[:10]}"


def assert_painted(shown, network_json, contract, value_of, scale_of):
    """Every map's colours are its oracle values, value_of(layer, k) as a (rows, cols) array, on
    the scale scale_of(layer) = (vmin, vmax, palette name), within one palette step; a value on a
    colour's edge may differ (float32 in the page, float64 here), at most 0.5% of the pixels."""
    steps = []
    for (layer_id, k), rgba in shown.items():
        layer = next(each for each in network_json["layers"] if each["id"] == layer_id)
        vmin, vmax, cmap = scale_of(layer)
        colours = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)): n for n, c in enumerate(contract["palettes"][cmap])}
        wanted = np.clip(np.rint((value_of(layer, k) - vmin) / (vmax - vmin) * 255), 0, 255)
        got = np.array([[colours.get(tuple(pixel[:3]), -99) for pixel in row] for row in rgba])
        steps.append(np.abs(got - wanted).ravel())
        assert steps[-1].max() <= 1, f"{layer_id} map {k + 1}: not painted from its numbers"
    off = np.concatenate(steps)
    assert (off > 0).mean() < 0.005, f"{(off > 0).sum()} of {off.size} pixels are a colour off"


def map_of(outputs, layer, k, index=0):
    """Map k of a layer's oracle output (a vector in its grid), for the index-th input."""
    values = outputs[layer["id"]][index]
    return values[k].numpy() if spatial(layer) else values.numpy().reshape(layer["grid"])


def contract_scale(contract):
    return lambda layer: (contract["scales"][layer["id"]]["vmin"], contract["scales"][layer["id"]]["vmax"],
                          contract["scales"][layer["id"]]["cmap"])


def test_an_input_computed_in_the_page_is_painted_from_its_numbers(page, server, site, site_url, network_json,
                                                                   contract, fashion_test_split):
    """A test image sent through the network in the page has no frames: the overview paints it, and
    its colours are the oracle's values on the contract's scale (within one palette step)."""
    cells = json.loads((site / site_url("confusion")).read_text(encoding="utf-8"))["cells"]
    authors = {int(m) for r in json.loads((site / site_url("inputs")).read_text(encoding="utf-8"))
               for m in re.findall(r"test image (\d+)", r["source"])}
    index = next(i for cell in sorted(cells) for i in cells[cell] if i not in authors)
    open_page(page, server, f"#input=test.{index}")
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    with torch.no_grad():
        outputs = forward(FASHION_CNN, state, normalised(fashion_test_split.images[index:index + 1],
                                                         **network_json["normalisation"]))
    name = network_json["classes"][int(outputs["fc2"][0].argmax())]
    page.locator("#fig-overview").scroll_into_view_if_needed()
    expect_output(page, name)
    assert_painted(shown_overview(page), network_json, contract, lambda layer, k: map_of(outputs, layer, k),
                   contract_scale(contract))


def test_the_overview_follows_the_learning_slider(page, server, network_json, contract, input_records):
    """With a link to step 30 of training, the overview paints the first input run through that
    moment's weights (read from model/cnn.snapshots.npz), not the trained network's."""
    state = snapshot_state(30)
    with torch.no_grad():
        outputs = forward(FASHION_CNN, state, normalised(author_pixels(input_records[:1]),
                                                         **network_json["normalisation"]))
    open_page(page, server, "#at=30")
    page.locator("#fig-overview").scroll_into_view_if_needed()
    expect_output(page, network_json["classes"][int(outputs["fc2"][0].argmax())])
    assert_painted(shown_overview(page), network_json, contract, lambda layer, k: map_of(outputs, layer, k),
                   contract_scale(contract))


def test_with_a_second_input_every_map_shows_the_difference(page, server, network_json, contract, input_records,
                                                            summaries):
    """Comparing two of the author's inputs, every map is the oracle's first-minus-second on the
    diverging palette, one symmetric scale per layer, and the overview says so."""
    first, second = input_records[0], input_records[3]
    with torch.no_grad():
        outputs = forward(FASHION_CNN, torch.load(CHECKPOINT, map_location="cpu", weights_only=True),
                          normalised(author_pixels([first, second]), **network_json["normalisation"]))
    difference = {layer: values[:1] - values[1:] for layer, values in outputs.items()}
    open_page(page, server, f"#input={first['id']}&compare={second['id']}")
    figure = page.locator("#fig-overview")
    figure.scroll_into_view_if_needed()
    names = [summaries[i]["label_name"] or summaries[i]["source"] for i in (0, 3)]
    expect(figure.locator(".lw-glance-versus")).to_have_text(re.compile(re.escape(f"Each map shows {names[0]} minus {names[1]}")))
    expect(figure.locator(".lw-glance-class .is-second:visible")).to_have_count(len(network_json["classes"]))

    def scale(layer):
        bound = float(difference[layer["id"]].abs().max())
        return -bound, bound, "RdBu_r"
    assert_painted(shown_overview(page), network_json, contract, lambda layer, k: map_of(difference, layer, k), scale)


def test_pointing_outlines_the_sources_and_selecting_shows_the_map_in_its_figure(page, server, network_json):
    """conv2's map 6 reads all of pool1's maps, relu2's map 6 only conv2's map 6; selecting a map shows it
    in its figure's carousel, focused, clear of the sticky picker; arrow keys move through the overview."""
    open_page(page, server)
    shown_overview(page)
    overview = page.locator("#fig-overview")
    sources = overview.locator(".lw-glance-map.is-source")
    overview.locator('[data-layer="conv2"][data-k="5"]').hover()
    pool1 = next(layer for layer in network_json["layers"] if layer["id"] == "pool1")
    expect(sources).to_have_count(pool1["shape"][0])
    assert set(sources.evaluate_all("all => all.map(b => b.dataset.layer)")) == {"pool1"}
    expect(overview.locator(".lw-glance-said")).to_have_text(f"conv2, map 6 is computed from all {pool1['shape'][0]} maps of pool1.")
    overview.locator('[data-layer="relu2"][data-k="5"]').hover()
    expect(sources).to_have_count(1)
    expect(overview.locator('[data-layer="conv2"][data-k="5"]')).to_have_class(re.compile("is-source"))

    overview.locator('[data-layer="conv2"][data-k="5"]').click()
    count = next(layer for layer in network_json["layers"] if layer["id"] == "conv2")["shape"][0]
    expect(page.locator("#fig-conv2 .lw-counter")).to_have_text(f"6 / {count}")
    expect(page.locator("#fig-conv2 .lw-carousel")).to_be_focused()
    top = page.evaluate("document.querySelector('#fig-conv2').getBoundingClientRect().top")
    assert picker_bottom(page) - 1 <= top < page.viewport_size["height"], top

    page.mouse.move(0, 0)  # off the overview: a resting pointer would describe the map it rests on
    first = overview.locator(".lw-glance-map").first
    first.focus()
    for key in ("ArrowRight", "ArrowDown", "ArrowDown"):
        page.keyboard.press(key)
    expect(overview.locator('[data-layer="conv1"][data-k="2"]')).to_be_focused()
    expect(overview.locator(".lw-glance-said")).to_have_text("conv1, map 3 is computed from input.")
    page.keyboard.press("Enter")
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^3 / "))
    expect(page.locator("#fig-conv1 .lw-carousel")).to_be_focused()


def test_without_javascript_the_overview_is_a_grid_of_the_same_sheets(browser, server, site, site_url, network_json,
                                                                      input_records):
    """No script: the figure lists one picture per layer, each layer's sheet of maps, and the sheets hold
    exactly the frames, laid out in rows with a transparent pixel between maps."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "index.html")
    first = input_records[0]["id"]
    drawn = network_json["layers"][:-1]
    pictures = page.locator("#fig-overview .lw-glance img")
    expect(pictures).to_have_count(len(drawn))
    for picture, layer in zip(pictures.all(), drawn):
        kind = "overview" if spatial(layer) else "vector"
        expect(picture).to_have_attribute("src", site_url(kind, input=first, layer=layer["id"]))
    pictures.last.scroll_into_view_if_needed()
    assert pictures.evaluate_all("all => all.every(img => img.complete && img.naturalWidth > 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#fig-overview").screenshot(path=ARTIFACTS / "overview-without-javascript.png")
    context.close()

    for layer in filter(spatial, drawn):
        count, h, w = layer["shape"]
        sheet = np.asarray(Image.open(site / site_url("overview", input=first, layer=layer["id"])).convert("RGBA"))
        columns = (sheet.shape[1] + 1) // (w + 1)
        assert columns * (w + 1) - 1 == sheet.shape[1] and -(-count // columns) * (h + 1) - 1 == sheet.shape[0]
        gaps = np.ones(sheet.shape[:2], dtype=bool)
        for k in range(count):
            r, c = divmod(k, columns)
            tile = sheet[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w]
            assert np.array_equal(tile, frame(site, site_url, first, layer, k)), f"{layer['id']} map {k + 1}"
            gaps[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = False
        assert (sheet[gaps][:, 3] == 0).all(), f"{layer['id']}: the gaps are not transparent"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_axe_violation_with_the_overview_and_examples_open(new_context, server, network_json, scheme):
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    page = new_context(bypass_csp=True, color_scheme=scheme).new_page()
    open_page(page, server)
    shown_overview(page)
    page.locator("#fig-overview .lw-glance-map").nth(20).hover()
    for layer_id in ("conv2", "fc1"):
        page.locator(f"#fig-{layer_id}").scroll_into_view_if_needed()
        page.locator(f"#fig-{layer_id} .lw-examples-ask").click()
        expect(page.locator(f"#fig-{layer_id} .lw-examples-list li")).to_have_count(9)
    figure = page.locator("#fig-examples-conv2")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-examples-list li")).to_have_count(9)
    figure.locator(".lw-made summary").click()
    page.add_script_tag(path=str(AXE))
    assert violations(page) == [], f"with the overview and the examples open ({scheme})"


@pytest.mark.parametrize("width", [375, 1280])
def test_the_figures_fit_the_screen_and_are_photographed(new_context, server, width):
    """At a phone's and a desktop's width the overview, a panel and an examples figure widen nothing:
    the page never scrolls sideways. Screenshots go to tests/artifacts/."""
    page = new_context(viewport={"width": width, "height": 900}).new_page()
    open_page(page, server)
    ARTIFACTS.mkdir(exist_ok=True)
    shown_overview(page)
    page.locator("#fig-overview .lw-glance-map").nth(20).hover()
    page.locator("#fig-overview").screenshot(path=ARTIFACTS / f"overview-{width}.png")
    page.locator("#fig-conv2").scroll_into_view_if_needed()
    page.locator("#fig-conv2 .lw-examples-ask").click()
    expect(page.locator("#fig-conv2 .lw-examples-list li")).to_have_count(9)
    page.locator("#fig-conv2").screenshot(path=ARTIFACTS / f"examples-panel-{width}.png")
    figure = page.locator("#fig-examples-conv2")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-examples-list li")).to_have_count(9)
    figure.screenshot(path=ARTIFACTS / f"examples-figure-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


# --- the figure kinds in the author's Markdown ------------------------------------------------------

def line_of(path, text):
    return next(n for n, line in enumerate(path.read_text().split("\n"), 1) if text in line)


def test_examples_and_overview_figures_are_numbered_and_referenced(make_content, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_content("See [](#fig-overview) and [](#fig-examples-conv2).\n\n![All of it](overview:)\n\n"
                 "![Its maps](layer:conv2)\n\n![What they look for](examples:conv2)\n")
    build("content", "site", log=lambda message: None)
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<figure class="[^"]*" id="([^"]+)"', html) == ["fig-overview", "fig-conv2",
                                                                      "fig-examples-conv2"]
    assert '<a href="#fig-overview">Figure 1</a>' in html and '<a href="#fig-examples-conv2">Figure 3</a>' in html
    assert 'data-examples="conv2"' in html and "<noscript><ol class=\"lw-glance\">" in html


@pytest.mark.parametrize("written, message", [
    ("![Deep](examples:conv9)", "unknown examples 'conv9' (known: conv1, relu1, pool1, conv2, relu2, pool2, fc1, relu3)"),
    ("![Deep](examples:flatten)", "unknown examples 'flatten' (known: conv1, relu1, pool1, conv2, relu2, pool2, fc1, relu3)"),
    ("![All](overview:conv1)", "'overview:' takes no name; write ![caption](overview:)"),
])
def test_an_unknown_target_stops_the_build_on_its_line(make_content, tmp_path, monkeypatch, written, message):
    monkeypatch.chdir(tmp_path)
    path = make_content(f"Intro.\n\n{written}\n")
    with pytest.raises(BuildError) as error:
        build("content", "site", log=lambda message: None)
    assert str(error.value) == f"content/article.md:{line_of(path, written)}: {message}"
