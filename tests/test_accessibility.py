"""Accessibility in a real Chromium: live regions, alt texts that name each map and its range,
reduced motion, and text contrast in both colour schemes with the inspectors open.

    .venv/bin/python -m pytest tests/test_accessibility.py
"""
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import (assert_prints, choose, contrast, inspector, luminance, maps, rgb, select)


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


def frame_urls(site_url, record, layer):
    """The pictures a layer's figure shows for one input: one per map, or one strip for a vector."""
    if len(layer["shape"]) == 3:
        return [site_url("map", input=record["id"], layer=layer["id"], k=k) for k in range(layer["shape"][0])]
    return [site_url("vector", input=record["id"], layer=layer["id"])]


@pytest.mark.parametrize("which", [0, -1])
def test_map_alt_texts_name_the_layer_the_map_and_its_range(opened, input_records, network_json, site_url, which):
    """Each map's (and strip's) alt says its layer, which map and its min and max, for the first input and another."""
    record = input_records[which]
    if which:
        choose(opened, record, site_url)
    wrong = []
    for layer in (l for l in network_json["layers"] if l["id"] != network_json["layers"][-1]["id"]):
        values = maps(record, layer["id"])
        values = values if values.ndim == 3 else values[None]  # a vector figure is one picture
        images = opened.locator(f"#fig-{layer['id']} .lw-surface > img")
        expect(images).to_have_count(len(values))
        for image, url in zip(images.all(), frame_urls(site_url, record, layer)):
            expect(image).to_have_attribute("src", url)  # the figure shows this input: its alts are written
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
    expect(inspector(page, "pool1").locator("table")).to_have_count(1)
    select(page, network_json, "conv1", 0, 5, 5)
    expect(inspector(page, "conv1").locator("table")).to_have_count(3)
    paper = rgb(page.evaluate("getComputedStyle(document.body).backgroundColor"))
    if scheme == "dark":
        assert luminance(paper) < 0.05, f"the dark page's background is {paper}"
    else:
        assert luminance(paper) > 0.8
    low = [(t["what"], round(contrast(t["colour"], t["background"]), 2))
           for t in page.evaluate(TEXT_COLOURS) if contrast(t["colour"], t["background"]) < 4.5]
    assert low == [], f"text below 4.5:1 in the {scheme} scheme: {low}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_native_controls_follow_the_colour_scheme(new_context, server, scheme):
    """The page's own fields and menus ("and not" under the attribution, the picker's Test #) are drawn, as the
    browser renders them, in the page's scheme: dark on the dark page, light on the light one."""
    page = new_context(color_scheme=scheme, viewport={"width": 1280, "height": 800}).new_page()
    open_page(page, server)
    page.locator("#fig-attribution").scroll_into_view_if_needed()
    controls = [page.locator("#fig-attribution select").first, page.locator(".lw-picker input[type=number]").first]
    for control in controls:
        control.scroll_into_view_if_needed()
        expect(control).to_be_visible()
        shot = Image.open(io.BytesIO(control.screenshot())).convert("L")
        middle = shot.crop((2, 2, max(3, shot.width // 3), shot.height - 2))  # its face, left of any arrow
        brightness = sum(middle.getdata()) / (255 * middle.width * middle.height)
        what = f"{control} in the {scheme} scheme: brightness {brightness:.2f}"
        assert (brightness < 0.35) if scheme == "dark" else (brightness > 0.65), what
