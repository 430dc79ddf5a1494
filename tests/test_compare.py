"""Two inputs side by side (static/compare.js), in Chromium: every map in view shows the second
input's picture, pixel for pixel as its published frame, and the difference of the two inputs'
exact outputs on a diverging scale; the carousel moves all three; the pair is chosen in the picker
and held in the link; axe-core finds nothing.

    .venv/bin/python -m pytest tests/test_compare.py
"""
import re

import numpy as np
import torch
from PIL import Image
from playwright.sync_api import expect

from builder import contract as build_contract
from conftest import author_pixels, open_page, snapshot_state
from oracle import FASHION_CNN, forward, normalised, published_outputs
from test_axe import AXE, violations

RGB = "canvas => Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.filter((_, i) => i % 4 !== 3))"


def pair_of(page, layer):
    return page.locator(f"#fig-{layer} .lw-maps > li.is-current .lw-pair")


def maps_of(pair):
    """The second input's map and the difference (their captions hold small pictures of the inputs)."""
    return pair.locator(":scope > figure > canvas").all()


def colours(values, vmin, vmax, palette):
    index = np.clip(np.rint((np.asarray(values, np.float64) - vmin) / (vmax - vmin) * 255), 0, 255).astype(int)
    return np.array([[int(palette[i][j:j + 2], 16) for j in (1, 3, 5)] for i in index.ravel()])


def test_each_map_shows_the_second_input_and_the_difference(page, server, site, site_url, summaries, contract,
                                                            network_json):
    first, second = summaries[-1], summaries[0]
    open_page(page, server, f"#input={first['id']}&compare={second['id']}&conv2=4")
    pair = pair_of(page, "conv2")
    expect(pair).to_be_visible()
    expect(pair.locator("figcaption").first).to_have_text(f"vs {second['label_name']}")
    expect(page.locator("#fig-conv2 .lw-maps > li.is-current .lw-pair-first")).to_have_text(first["label_name"])
    other, difference = maps_of(pair)
    frame = np.array(Image.open(site / site_url("map", input=second["id"], layer="conv2", k=3)).convert("RGB"))
    assert (np.array(other.evaluate(RGB)).reshape(frame.shape) == frame).mean() > 0.99  # ties may differ
    a = published_outputs(site, network_json, first["id"])["conv2"][3]
    b = published_outputs(site, network_json, second["id"])["conv2"][3]
    values = a.astype(np.float64) - b
    bound = np.abs(values).max()
    expected = colours(values, -bound, bound, contract["palettes"]["RdBu_r"])
    assert (np.array(difference.evaluate(RGB)).reshape(expected.shape) == expected).mean() > 0.99
    n = build_contract.number
    expect(page.locator("#fig-fc2 td.lw-pair-logit").nth(2)).to_have_text(
        f"{n(second['logits'][2])} ({n(first['logits'][2] - second['logits'][2])})")
    page.locator("#fig-conv2 .lw-next").click()
    expect(page.locator("#fig-conv2 .lw-counter")).to_have_text(re.compile(r"^5 / "))
    expect(pair_of(page, "conv2")).to_be_visible()  # the next map has its pair too


def test_at_a_moment_of_training_both_inputs_go_through_that_moments_network(page, server, summaries, contract,
                                                                             network_json):
    """With the slider at step 30, the second picture and the difference are those of the network at
    step 30 (the oracle's forward with that snapshot's weights), not of the trained one."""
    first, second = summaries[-1], summaries[0]
    with torch.no_grad():
        outputs = forward(FASHION_CNN, snapshot_state(30), normalised(author_pixels([first, second]),
                                                                      **network_json["normalisation"]))
    open_page(page, server, f"#input={first['id']}&compare={second['id']}&conv2=4&at=30")
    expect(page.locator(".lw-status")).to_contain_text("training step 30")
    pair = pair_of(page, "conv2")
    expect(pair).to_be_visible()
    other, difference = maps_of(pair)
    a, b = outputs["conv2"][0, 3].numpy(), outputs["conv2"][1, 3].numpy()
    scale = contract["scales"]["conv2"]
    expected = colours(b, scale["vmin"], scale["vmax"], contract["palettes"][scale["cmap"]])
    expect_colours(other, expected)
    values = a - b
    bound = np.abs(values).max()
    expect_colours(difference, colours(values, -bound, bound, contract["palettes"]["RdBu_r"]))
    n = build_contract.number
    logits = outputs["fc2"].numpy()
    shown = page.locator("#fig-fc2 td.lw-pair-logit").nth(2)
    expect(shown).to_have_text(re.compile(r"^\S+ \(\S+\)$"))
    other_logit, gap = (float(x.replace("\u2212", "-")) for x in re.fullmatch(r"(\S+) \((\S+)\)", shown.inner_text()).groups())
    assert abs(other_logit - logits[1, 2]) <= 1e-3 * max(1, abs(logits[1, 2])) + 0.01, n(logits[1, 2])
    assert abs(gap - (logits[0, 2] - logits[1, 2])) <= 1e-3 * max(1, abs(gap)) + 0.01


def expect_colours(canvas, expected):
    """The canvas's colours are `expected` but for values on a colour's edge (float32 against float64)."""
    got = np.array(canvas.evaluate(RGB)).reshape(expected.shape)
    assert (got == expected).all(axis=1).mean() > 0.99


def test_the_pair_is_chosen_in_the_picker_and_kept_in_the_link(page, server, summaries, context):
    open_page(page, server)
    page.locator(".lw-compare-open").click()
    chooser = page.locator(".lw-compare-with")
    expect(chooser).to_be_focused()
    chooser.select_option(summaries[3]["id"])
    expect(page).to_have_url(re.compile(rf"compare={summaries[3]['id']}"))
    expect(pair_of(page, "conv1")).to_be_visible()
    other = context.new_page()
    other.goto(page.url)
    expect(pair_of(other, "conv1")).to_be_visible()
    expect(other.locator(".lw-compare-with")).to_have_value(summaries[3]["id"])
    chooser.select_option("")
    expect(pair_of(page, "conv1")).to_be_hidden()
    expect(page).not_to_have_url(re.compile("compare="))


def test_axe_finds_nothing_while_comparing(new_context, server, summaries):
    page = new_context(bypass_csp=True).new_page()
    open_page(page, server, f"#input={summaries[1]['id']}&compare={summaries[2]['id']}")
    expect(pair_of(page, "conv1")).to_be_visible()
    page.add_script_tag(path=str(AXE))
    assert violations(page) == []


def test_two_inputs_of_one_class_are_told_apart_in_the_list(page, server, summaries):
    """Every other input is offered by its class and its source (the published summaries say both),
    so no two choices read alike, two shirts included."""
    chosen = summaries[0]
    open_page(page, server, f"#input={chosen['id']}")
    page.locator(".lw-compare-open").click()
    options = page.locator(".lw-compare-with option:not([value=''])")
    others = [s for s in summaries if s["id"] != chosen["id"]]
    assert len({s["label_name"] for s in others}) < len(others), "the article has two inputs of one class"
    expect(options).to_have_count(len(others))
    texts = options.all_inner_texts()
    assert len(set(texts)) == len(texts), texts
    for summary, text in zip(others, options.all()):
        expect(text).to_have_attribute("value", summary["id"])
        expect(text).to_have_text(build_contract.text("input_named", label=summary["label_name"],
                                                      source=summary["source"]))


def test_both_inputs_maps_are_labelled_in_every_figure(page, server, summaries):
    """Two shirts compared: under every map in view of every figure, the first input's name and picture,
    the second's, and both pictures under their difference, each picture the input's own pixels."""
    first, second = [s for s in summaries if s["label_name"] == "Shirt"][:2]
    pixels = author_pixels([first, second]).numpy()
    open_page(page, server, f"#input={first['id']}&compare={second['id']}")
    figures = page.locator(".lw-figure[data-layer]:not([data-kind='logits'])")
    expect(figures.locator(".lw-pair:visible").first).to_be_visible()
    for figure in figures.all():
        pair = figure.locator(".lw-pair:visible")
        expect(pair).to_have_count(1)
        label = figure.locator(".lw-surface:visible .lw-pair-first")
        expect(label).to_have_text(first["label_name"])
        second_caption, difference_caption = pair.locator("figcaption").all()
        expect(second_caption).to_have_text(f"vs {second['label_name']}")
        expect(difference_caption).to_contain_text("−")
        thumbnails = [label.locator("canvas"), second_caption.locator("canvas"),
                      *difference_caption.locator("canvas").all()]
        for thumbnail, which in zip(thumbnails, [0, 1, 0, 1]):
            shown = np.array(thumbnail.evaluate(RGB)).reshape(28, 28, 3)
            assert (shown == pixels[which][..., None]).all(), (figure.get_attribute("id"), which)
            expect(thumbnail).to_have_attribute("aria-label", build_contract.text(
                "input_named", label=[first, second][which]["label_name"], source=[first, second][which]["source"]))
    header = page.locator("#fig-fc2 thead th")
    expect(header.nth(1)).to_contain_text(f"of {first['label_name']}")
    expect(header.last).to_contain_text(f"vs {second['label_name']}")


# The words (runs of text between spaces) of an element that the browser breaks across lines: each word's
# range has more than one line box.
BROKEN_WORDS = """root => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""


def test_on_a_phone_the_compare_labels_and_table_wrap_only_between_words(new_context, server, summaries):
    """At 375 px the pair's captions ("vs T-shirt/top", "− , ±3.76") and the output table's headers and class
    names wrap at spaces, never inside a word, and the range's picture pair stays on its line with the range."""
    page = new_context(viewport={"width": 375, "height": 812}).new_page()
    first, second = summaries[6], summaries[0]  # a Shirt beside a T-shirt/top: the longest name
    open_page(page, server, f"#input={first['id']}&compare={second['id']}&conv2=4")
    expect(pair_of(page, "conv2")).to_be_visible()
    page.locator("#fig-fc2").scroll_into_view_if_needed()
    expect(page.locator("#fig-fc2 th.lw-pair-logit")).to_be_visible()
    labels = page.locator("#fig-conv2 .lw-maps > li.is-current :is(.lw-pair figcaption, .lw-pair-first), "
                          "#fig-fc2 .lw-outputs th")
    assert labels.count() > 10
    broken = {label.inner_text(): words for label in labels.all() if (words := label.evaluate(BROKEN_WORDS))}
    assert broken == {}, f"words broken across lines at 375 px: {broken}"
