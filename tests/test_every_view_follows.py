"""Every view follows every input source: whichever way the reader chooses an input (a thumbnail, a
link, an upload, a drawing, a test image among the mistakes, a link to a moment of training, Compare's
second input), every picture on the page that shows an input shows the one chosen, and the status
line and the picker's chosen item name it.

The rule is checked generically, so a figure added later that shows the input without following it
fails here. The test decodes every picture the page renders (each visible <img> from its file, each
visible <canvas> from its pixels) and recognises those that show an input by their pixels, against
the inputs' own (the dataset's test images, an upload converted by builder.inputs.convert, the drawing
decoded from its link). Each of them must be marked `data-shows-input` ("chosen", or "compared" for
Compare's second input; on the element or around it) and show that input, unless it is one of the
choices the reader picks from (the picker's thumbnails, the mistakes' test images, the drawing pad);
and each figure known to show the input shows a marked picture. The pictures derived from the input,
every layer's map in view (a carousel's current one, a vector's strip), show PyTorch's outputs for the
chosen input's pixels (at the moment of training shown) in the contract's colours.

    .venv/bin/python -m pytest tests/test_every_view_follows.py
"""
import re

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from builder import contract as build_contract
from builder.inputs import convert
from conftest import CHECKPOINT, open_page, snapshot_state
from model.cnn import FashionCNN
from test_convert import encoded, garment
from test_learning import moments, slider_of  # noqa: F401 (a fixture)
from test_own_input import drawn_pixels, pad_of, settled, stroke, torch_outputs

# What the reader picks an input from: each shows its own input, whichever is chosen.
CHOICES = ".lw-choices, .lw-cell-images, .lw-sketch"
# The figures that show the input's picture, each a marked picture of the chosen input; with a second
# input, the input figure shows it too, and the overview shows the two inputs' difference instead.
SHOWING = [["#fig-input", "chosen"], ["#fig-attribution", "chosen"], ["#fig-overview", "chosen"]]
COMPARING = [["#fig-input", "chosen"], ["#fig-input", "compared"], ["#fig-attribution", "chosen"]]

# Every rendered picture of the input's size, decoded; those that show one of the `known` inputs'
# pixels, or are marked as showing one, are checked: a list of what is wrong (empty when all is right).
PROBLEMS = """async ({ rows, cols, known, chosen, compared, choices, showing }) => {
  const decode = async element => {
    if (element instanceof HTMLCanvasElement) {
      if (element.width !== cols || element.height !== rows) return null;
      return element.getContext('2d')?.getImageData(0, 0, cols, rows).data ?? null;
    }
    const src = element.currentSrc || element.src;
    if (!src) return null;
    const bitmap = await createImageBitmap(await (await fetch(src)).blob()).catch(() => null);  // an SVG has none
    if (!bitmap) return null;
    if (bitmap.width !== cols || bitmap.height !== rows) return null;
    const context = new OffscreenCanvas(cols, rows).getContext('2d');
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, cols, rows).data;
  };
  // Gray pixels equal to the input's but for a painted value on a colour's edge (float32 against the build).
  const shows = (data, pixels) => {
    let exact = 0;
    for (let i = 0; i < pixels.length; i++) {
      const far = [0, 1, 2].some(j => Math.abs(data[4 * i + j] - pixels[i]) > 1) || data[4 * i + 3] !== 255;
      if (far) return false;
      exact += data[4 * i] === pixels[i];
    }
    return exact >= 0.98 * pixels.length;
  };
  const where = element => {
    const figure = element.closest('figure.lw-figure, .lw-picker');
    return `${element.tagName.toLowerCase()}${element.className ? '.' + element.className : ''} in ${
      figure?.id ? '#' + figure.id : figure?.className ?? 'the page'}`;
  };
  const wanted = { chosen, compared };
  const problems = [], marked = [];
  for (const element of document.querySelectorAll('img, canvas')) {
    if (!element.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const data = await decode(element);
    if (!data) continue;
    const mark = element.closest('[data-shows-input]')?.dataset.showsInput;
    const seen = Object.keys(known).filter(name => shows(data, known[name]));
    if (mark) {
      if (!(mark in wanted) || !wanted[mark]) problems.push(`${where(element)} is marked '${mark}', which no input is`);
      else if (!shows(data, known[wanted[mark]])) {
        problems.push(`${where(element)} shows ${seen.join(' or ') || 'no input'}, not the ${mark} ${wanted[mark]}`);
      } else marked.push(element);
    } else if (seen.length && !element.closest(choices)) {
      problems.push(`${where(element)} shows ${seen.join(' or ')} but is not marked data-shows-input`);
    }
  }
  for (const [figure, mark] of showing) {
    const shown = element => element.closest(figure)
      && element.closest('[data-shows-input]').dataset.showsInput === mark;
    if (!marked.some(shown)) {
      problems.push(`${figure} shows no picture of the ${mark} input`);
    }
  }
  return problems;
}"""

# PROBLEMS once the page has none, checked again at each frame; what is left after 20 s.
UNTIL_NONE = f"""async arg => {{
  const problems = {PROBLEMS}, until = performance.now() + 20000;
  for (;;) {{
    const left = await problems(arg);
    if (!left.length || performance.now() > until) return left;
    await new Promise(next => requestAnimationFrame(next));
  }}
}}"""

# Each layer figure's map in view against `expected` ({layer: its RGB bytes}), checked again at each
# frame until all agree (but for a value on a colour's edge) or 20 s have passed: what disagrees.
MAPS_DISAGREE = """async expected => {
  const decode = async element => {
    if (element instanceof HTMLCanvasElement) {
      return element.getContext('2d').getImageData(0, 0, element.width, element.height).data;
    }
    const bitmap = await createImageBitmap(await (await fetch(element.currentSrc || element.src)).blob());
    const context = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  };
  const disagree = async () => {
    const wrong = [];
    for (const [layer, colours] of Object.entries(expected)) {
      const figure = document.querySelector(`.lw-figure[data-layer="${layer}"]`);
      if (!figure) continue;
      const surface = figure.querySelector('.lw-maps > li.is-current .lw-surface')
        ?? figure.querySelector('.lw-surface');
      const shown = [...surface.querySelectorAll(':scope > img, :scope > canvas')]
        .filter(element => element.checkVisibility({ visibilityProperty: true }));
      const data = shown.length === 1 ? await decode(shown[0]) : null;
      let same = 0;
      for (let i = 0; data && data.length === colours.length / 3 * 4 && i < colours.length / 3; i++) {
        same += [0, 1, 2].every(j => data[4 * i + j] === colours[3 * i + j]);
      }
      if (same < 0.99 * colours.length / 3) wrong.push(`${layer}: ${same} of ${colours.length / 3} pixels agree`);
    }
    return wrong;
  };
  const until = performance.now() + 20000;
  for (;;) {
    const wrong = await disagree();
    if (!wrong.length || performance.now() > until) return wrong;
    await new Promise(next => requestAnimationFrame(next));
  }
}"""


@pytest.fixture(scope="module")
def known(summaries, fashion_test_split):
    """The published inputs' pixels, from the dataset's test split: {id: (H × W) uint8}."""
    return {s["id"]: image_of(fashion_test_split, int(re.search(r"\d+$", s["id"]).group()))
            for s in summaries if s["id"].startswith("test-")}


def image_of(split, index):
    return split.images[index].numpy()[0]


def mount_every_view(page):
    """Bring every figure near the viewport once, so each view that loads as it comes near is there."""
    for figure in page.locator("figure.lw-figure").all():
        figure.scroll_into_view_if_needed()
    page.locator(".lw-picker").scroll_into_view_if_needed()


def expect_follows(page, known, chosen, compared=None):
    """Wait until every picture of an input on the page shows `chosen` (and `compared`), by the rule above."""
    arg = dict(rows=28, cols=28, known={name: pixels.ravel().tolist() for name, pixels in known.items()},
               chosen=chosen, compared=compared, choices=CHOICES, showing=COMPARING if compared else SHOWING)
    problems = page.evaluate(UNTIL_NONE, arg)
    assert problems == [], "pictures that do not follow the input:\n" + "\n".join(problems)


@pytest.fixture
def oracle(network_json, contract, committed_metrics):
    """What expect_maps_follow needs besides the page and the pixels."""
    return dict(network_json=network_json, contract=contract, committed_metrics=committed_metrics)


def expect_maps_follow(page, pixels, network_json, contract, committed_metrics, step=None):
    """Every layer figure's map in view shows PyTorch's outputs for `pixels` (the network at training
    step `step`, or trained) on the layer's colour scale: its first map, or its vector in rows."""
    model = FashionCNN()
    model.load_state_dict(snapshot_state(step) if step is not None
                          else torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    outputs = torch_outputs(model.eval(), committed_metrics, pixels)
    expected = {}
    for layer in network_json["layers"][:-1]:  # the last is the output table's
        size = int(np.prod(layer["shape"][1:])) if len(layer["shape"]) == 3 else layer["shape"][0]
        scale = contract["scales"][layer["id"]]
        palette = contract["palettes"][scale["cmap"]]
        values = outputs[layer["id"]][:size].astype(np.float64)
        index = np.clip(np.rint((values - scale["vmin"]) / (scale["vmax"] - scale["vmin"]) * 255), 0, 255).astype(int)
        expected[layer["id"]] = [int(palette[i][j:j + 2], 16) for i in index for j in (1, 3, 5)]
    wrong = page.evaluate(MAPS_DISAGREE, expected)
    assert wrong == [], "maps that do not show the chosen input's outputs:\n" + "\n".join(wrong)


def expect_named(page, status, item):
    """The status line says `status`, and the picker's chosen item says `item`."""
    expect(page.locator(".lw-status")).to_contain_text(status)
    expect(page.locator(".lw-choice:has(input:checked)")).to_contain_text(item)


def published(summaries, input_id):
    return next(s for s in summaries if s["id"] == input_id)


def test_a_thumbnail(page, server, summaries, known, oracle):
    open_page(page, server)
    mount_every_view(page)
    chosen = summaries[6]
    page.locator(f'.lw-picker input[value="{chosen["id"]}"]').check()
    expect_named(page, chosen["source"], chosen["label_name"])
    expect_follows(page, known, chosen["id"])
    expect_maps_follow(page, known[chosen["id"]], **oracle)


def test_a_link(page, server, summaries, known, oracle):
    chosen = summaries[3]
    open_page(page, server, f"#input={chosen['id']}")
    mount_every_view(page)
    expect_named(page, chosen["source"], chosen["label_name"])
    expect_follows(page, known, chosen["id"])
    open_page(page, server, f"#input={summaries[4]['id']}")  # a new link, on the open page
    expect_named(page, summaries[4]["source"], summaries[4]["label_name"])
    expect_follows(page, known, summaries[4]["id"])
    expect_maps_follow(page, known[summaries[4]["id"]], **oracle)


def test_an_upload(page, server, known, oracle, tmp_path):
    image = garment((150, 110))
    pixels, _ = convert(image, (1, 28, 28), build_contract.conversion())
    path = tmp_path / "coat.png"
    path.write_bytes(encoded(image, "PNG"))
    open_page(page, server)
    mount_every_view(page)
    page.locator(".lw-upload input").set_input_files(path)
    expect_named(page, "your image coat.png", "coat.png")
    expect_follows(page, {**known, "the upload": pixels[0]}, "the upload")
    expect_maps_follow(page, pixels[0], **oracle)


def test_a_drawing(page, server, known, oracle):
    open_page(page, server)
    mount_every_view(page)
    pad = pad_of(page)
    stroke(page, pad, [(0.5, 0.1), (0.5, 0.9)])
    stroke(page, pad, [(0.2, 0.5), (0.8, 0.5)])
    settled(page)
    expect_named(page, "your drawing", "your drawing")
    expect_follows(page, {**known, "the drawing": drawn_pixels(page)}, "the drawing")
    expect_maps_follow(page, drawn_pixels(page), **oracle)


def test_a_mistake(page, server, known, oracle, fashion_test_split):
    open_page(page, server)
    mount_every_view(page)
    page.locator("#fig-confusion").scroll_into_view_if_needed()  # its cells become buttons as it nears
    page.locator("#fig-confusion tbody td button").first.click()
    image = page.locator("#fig-confusion .lw-cell-image").last
    index = int(image.locator("span").inner_text())
    image.click()
    source = f"test image {index}"
    expect_named(page, source, source)
    expect_follows(page, {**known, source: image_of(fashion_test_split, index)}, source)
    expect_maps_follow(page, image_of(fashion_test_split, index), **oracle)


def test_a_moment(page, server, summaries, known, oracle, moments):  # noqa: F811
    step, chosen = moments[len(moments) // 2].step, summaries[5]
    open_page(page, server, f"#input={chosen['id']}&at={step}")
    mount_every_view(page)
    expect_named(page, chosen["source"], chosen["label_name"])
    said = page.locator(".lw-status").inner_text()
    assert int(re.search(r"training step ([\d,]+)", said).group(1).replace(",", "")) == step, said
    expect_follows(page, known, chosen["id"])
    expect_maps_follow(page, known[chosen["id"]], **oracle, step=step)


def test_a_moment_on_the_slider(page, server, summaries, known, oracle, moments):  # noqa: F811
    chosen = summaries[7]
    open_page(page, server, f"#input={chosen['id']}")
    mount_every_view(page)
    slider_of(page).press("Home")
    step = moments[0].step
    expect(page).to_have_url(re.compile(rf"at={step}\b"))
    expect_named(page, chosen["source"], chosen["label_name"])
    expect_follows(page, known, chosen["id"])
    expect_maps_follow(page, known[chosen["id"]], **oracle, step=step)


def test_a_comparison(page, server, summaries, known, oracle):
    chosen, second = summaries[6], summaries[-1]
    open_page(page, server, f"#input={chosen['id']}")
    mount_every_view(page)
    page.locator(".lw-compare-open").click()
    page.locator(".lw-compare-with").select_option(second["id"])
    expect_named(page, chosen["source"], chosen["label_name"])
    expect_follows(page, known, chosen["id"], second["id"])
    expect_maps_follow(page, known[chosen["id"]], **oracle)
