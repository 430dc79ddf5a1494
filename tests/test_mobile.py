"""The page on a phone (375 × 812) and a desktop (1280 × 800), in a real Chromium: the pinned picker keeps
to one line on the phone and opens the rest with More (by keyboard too), what it pins never covers the maps,
every link lands its target below it, and at 375 px nothing is cut off without a sign that it scrolls; a
horizontal swipe steps a carousel. Screenshots of the picker's states and of what scrolls sideways go to
tests/artifacts/phone/.

    .venv/bin/python -m pytest tests/test_mobile.py
"""
import json
import re

import pytest
from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import ARTIFACTS, current_surface, inspector, select, wait_for_images

SCREENS = {
    "phone": dict(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True),
    "desktop": dict(viewport={"width": 1280, "height": 800}),
}
SHOTS = ARTIFACTS / "phone"

# The picker's rows of visible things, from the layout itself: boxes that overlap vertically share a row.
PICKER_ROWS = """() => {
  const picker = document.querySelector('.lw-picker');
  const shown = [...picker.querySelectorAll('img, canvas, button, a, select, legend, p, input:not([type=radio])')]
    .map(e => e.getBoundingClientRect()).filter(box => box.width > 1 && box.height > 1).sort((a, b) => a.top - b.top);
  const rows = [];
  for (const box of shown) {
    const row = rows.at(-1);
    if (row && box.top < row.bottom - 0.5) row.bottom = Math.max(row.bottom, box.bottom), row.tallest = Math.max(row.tallest, box.height);
    else rows.push({ top: box.top, bottom: box.bottom, tallest: box.height });
  }
  const box = picker.getBoundingClientRect();
  return { top: box.top, height: box.height, rows };
}"""

# Every element whose content is wider than its box, unless it scrolls and shows it: scroll shadows (a
# background attached `local`) or a sticky fade at its edge; an element that overflows into the scroll
# container around it is that container's business. And the document itself must not scroll sideways.
CUT_OFF = """() => {
  const scrolls = style => ['auto', 'scroll'].includes(style.overflowX);
  const name = e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${[...e.classList].map(c => '.' + c).join('')}`
    + ` (in ${e.parentElement.closest('[id]')?.id ?? 'body'})`;
  const cut = [];
  for (const e of document.querySelectorAll('body *')) {
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    if (box.width <= 1 || box.height <= 1 || e.matches('input, select, textarea')) continue;  // read out, not shown
    if (['inline', 'contents'].includes(style.display) || e.scrollWidth <= e.clientWidth + 1) continue;
    if (scrolls(style)) {
      const after = getComputedStyle(e, '::after');
      const shadows = style.backgroundAttachment.includes('local') && style.backgroundImage.includes('gradient');
      const fade = after.position === 'sticky' && after.backgroundImage.includes('gradient');
      if (!shadows && !fade) cut.push(`${name(e)} scrolls ${e.scrollWidth} px in ${e.clientWidth} with no sign of it`);
      continue;
    }
    let around = e.parentElement;
    while (around && getComputedStyle(around).overflowX === 'visible') around = around.parentElement;
    if (style.overflowX === 'visible' && around && around !== document.body && around !== document.documentElement
        && scrolls(getComputedStyle(around))) continue;
    cut.push(`${name(e)}: content ${e.scrollWidth} px wide in ${e.clientWidth} (overflow-x ${style.overflowX})`);
  }
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth || innerWidth > root.clientWidth) {
    cut.push(`the document scrolls sideways: ${root.scrollWidth} px in ${root.clientWidth} (innerWidth ${innerWidth})`);
  }
  return cut;
}"""

# Follow each link by activating it as a reader would; where its target lands, and where the picker ends.
LANDINGS = """async selector => {
  const frames = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const landed = [];
  for (const link of document.querySelectorAll(selector)) {
    link.click();
    await frames();
    const target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    landed.push({ link: `${link.textContent.trim()} (${link.getAttribute('href')})`, top: target.getBoundingClientRect().top,
                  picker: document.querySelector('.lw-picker').getBoundingClientRect().bottom });
  }
  return landed;
}"""


def opened_on(new_context, server, screen, **options):
    page = new_context(**SCREENS[screen], **options).new_page()
    open_page(page, server)
    return page


def show_controls(page):
    """Open the picker's other controls where they are folded (the phone's More)."""
    more = page.locator(".lw-more")
    if more.is_visible() and more.get_attribute("aria-expanded") == "false":
        more.click()
    expect(page.locator(".lw-own")).to_be_visible()


def open_pad_and_slider(page):
    """Open the drawing pad and the learning slider; on the phone the controls fold as the focus moves to each."""
    more = page.locator(".lw-more")
    folding = more.is_visible()
    for button, opened in [(".lw-draw", ".lw-sketch-canvas"), (".lw-learning-open", ".lw-training-slider")]:
        show_controls(page)
        page.locator(button).click()
        expect(page.locator(opened)).to_be_focused()
        if folding:
            expect(more).to_have_attribute("aria-expanded", "false")


def shoot(page, name, locator=None):
    SHOTS.mkdir(parents=True, exist_ok=True)
    (locator or page).screenshot(path=SHOTS / f"{name}.png")


@pytest.mark.parametrize("screen", SCREENS)
def test_the_pinned_picker_is_one_line_on_a_phone_while_scrolling(new_context, server, screen):
    """Scrolled to the middle of the article, the picker is pinned at the top; on the phone all it shows is on one
    line (its height under one and a half times that line's), on the desktop at most two."""
    page = opened_on(new_context, server, screen)
    shoot(page, f"{screen}-top")
    page.locator("#fig-conv2").scroll_into_view_if_needed()
    page.evaluate("scrollBy(0, 400)")
    page.wait_for_function("document.querySelector('.lw-picker').getBoundingClientRect().top === 0 && scrollY > 1000")
    picker = page.evaluate(PICKER_ROWS)
    shoot(page, f"{screen}-scrolled")
    rows = picker["rows"]
    assert len(rows) <= (1 if screen == "phone" else 2), f"the picker shows {len(rows)} rows: {rows}"
    if screen == "phone":
        assert picker["height"] < 1.5 * rows[0]["tallest"], \
            f"the picker is {picker['height']:.0f} px tall for a line of {rows[0]['tallest']:.0f} px"


def test_more_opens_and_folds_the_pickers_controls_by_keyboard(new_context, server):
    """On the phone, Tab reaches More (aria-expanded false) after the inputs; Enter opens the controls and the status
    line, Tab goes into them, Escape folds them back with the focus on More, Space opens them again, and tabbing
    past them folds them. On the desktop More is not needed: the controls are always there."""
    page = opened_on(new_context, server, "phone")
    more, draw, status = page.locator(".lw-more"), page.locator(".lw-draw"), page.locator(".lw-status")
    page.locator(".lw-picker input:checked").focus()
    for _ in range(3):  # past Tour, where the site has one
        page.keyboard.press("Tab")
        if more.evaluate("e => e === document.activeElement"):
            break
    expect(more).to_be_focused()
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(draw).to_be_hidden()
    assert status.bounding_box()["width"] <= 1, "the status line shows while the controls are folded"
    page.keyboard.press("Enter")
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(draw).to_be_visible()
    assert status.bounding_box()["width"] > 100
    shoot(page, "phone-more-open")
    page.keyboard.press("Tab")
    expect(draw).to_be_focused()
    page.keyboard.press("Escape")
    expect(more).to_be_focused()
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(draw).to_be_hidden()
    page.keyboard.press("Space")
    expect(more).to_have_attribute("aria-expanded", "true")
    for _ in range(12):
        page.keyboard.press("Tab")
        if not page.evaluate("Boolean(document.activeElement.closest('.lw-picker fieldset'))"):
            break
    expect(more).to_have_attribute("aria-expanded", "false")

    desktop = opened_on(new_context, server, "desktop")
    expect(desktop.locator(".lw-more")).to_be_hidden()
    expect(desktop.locator(".lw-draw")).to_be_visible()


@pytest.mark.parametrize("screen", SCREENS)
def test_with_the_pad_and_the_slider_open_the_maps_drawn_on_are_not_covered(new_context, server, screen):
    """With the drawing pad and the learning slider open, the pad's centre is the pad, and every figure with a map
    that a "Figure N" link leads to lands below the picker with its map's centre uncovered."""
    page = opened_on(new_context, server, screen)
    open_pad_and_slider(page)
    shoot(page, f"{screen}-pad-and-slider")
    assert page.locator(".lw-sketch-canvas").evaluate("""pad => { const box = pad.getBoundingClientRect();
        return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === pad; }"""), "the pad is covered"
    links = page.locator("article a[href^='#fig-']").evaluate_all(
        "links => [...new Set(links.map(a => a.hash.slice(1)))].filter(id => document.getElementById(id)?.querySelector('.lw-surface'))")
    assert links, "no Figure link leads to a figure with a map"
    for figure_id in links:
        page.locator(f"article a[href='#{figure_id}']").first.evaluate("a => a.click()")
        layer = page.locator(f"#{figure_id}").get_attribute("data-layer")
        surface = current_surface(page, layer) if layer else page.locator(f"#{figure_id} .lw-surface").first
        landed = surface.evaluate("""surface => { const box = surface.getBoundingClientRect();
            const picker = document.querySelector('.lw-picker').getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, Math.min(box.y + box.height / 2, innerHeight - 1));
            return { figure: surface.closest('figure').getBoundingClientRect().top, picker: picker.bottom,
                     hit: surface.contains(hit), what: hit && hit.className };}""")
        assert landed["figure"] >= landed["picker"] - 0.5, f"#{figure_id} lands under the picker: {landed}"
        assert landed["hit"], f"#{figure_id}'s map is covered at its centre by {landed['what']!r}: {landed}"
    page.locator(f"article a[href='#{links[-1]}']").first.evaluate("a => a.click()")
    shoot(page, f"{screen}-pad-and-slider-{links[-1]}")


@pytest.mark.parametrize("screen", SCREENS)
def test_every_contents_and_figure_link_lands_below_the_picker(new_context, server, screen):
    """Each link of the contents and each "Figure N" link in the article brings its target into the viewport,
    below the pinned picker, at the picker's height of the moment: folded, and with the pad open."""
    page = opened_on(new_context, server, screen)
    links = "nav.lw-toc a[href^='#'], article a[href^='#fig-']"
    assert page.locator("article a[href^='#fig-']").count() > 3 and page.locator("nav.lw-toc a").count() > 3
    for state in ("folded", "pad open"):
        if state == "pad open":
            show_controls(page)
            page.locator(".lw-draw").click()
            expect(page.locator(".lw-sketch-canvas")).to_be_focused()
        height = page.viewport_size["height"]
        wrong = [f"{each['link']}: top {each['top']:.0f}, picker ends at {each['picker']:.0f}"
                 for each in page.evaluate(LANDINGS, links) if not each["picker"] - 0.5 <= each["top"] < height]
        assert wrong == [], f"{state}: targets out of view or under the picker:\n" + "\n".join(wrong)


def test_nothing_is_cut_off_without_a_sign_at_375_pixels(new_context, server, network_json, summaries):
    """At 375 px the document never scrolls sideways, and every element whose content is wider than its box scrolls
    and shows it, in every state: every figure loaded, inspectors open (conv1, conv2 on an input channel), the pad
    open, the learning slider open, a comparison open."""
    page = opened_on(new_context, server, "phone")
    for figure in page.locator(".lw-figure").all():
        figure.scroll_into_view_if_needed()
        wait_for_images(figure)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(CUT_OFF) == [], "every figure loaded"
    select(page, network_json, "conv2", 0, 5, 5)
    inspector(page, "conv2").locator('button[data-channel="3"]').click()
    expect(inspector(page, "conv2").locator(".lw-detail table")).to_have_count(3)
    select(page, network_json, "conv1", 0, 0, 0)
    expect(inspector(page, "conv1").locator("table")).to_have_count(3)
    assert page.evaluate(CUT_OFF) == [], "inspectors open"
    open_pad_and_slider(page)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(CUT_OFF) == [], "pad and slider open"
    show_controls(page)
    page.locator(".lw-compare-open").click()
    page.locator(".lw-compare-with").select_option(summaries[2]["id"])
    expect(page.locator("#fig-fc2 .lw-pair-logit").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.evaluate(CUT_OFF) == [], "a comparison open"
    page.keyboard.press("Escape")  # fold the picker's controls again
    expect(page.locator(".lw-more")).to_have_attribute("aria-expanded", "false")
    for name, selector in [("formula", "article > .lw-math"), ("confusion", "#fig-confusion"), ("compare", "#fig-fc2")]:
        page.locator(selector).first.evaluate("e => e.scrollIntoView()")
        shoot(page, f"375-{name}")
    page.locator(".lw-choices").evaluate("strip => strip.scrollLeft = 0")
    shoot(page, "375-strip", page.locator(".lw-picker"))


def test_nothing_is_cut_off_at_any_step_of_the_tour_at_375_pixels(new_context, server, site, site_url):
    """With the tour open, at each of its steps in turn, nothing is cut off at 375 px without a sign."""
    if not (site / site_url("tour")).exists():
        pytest.skip("this site has no tour")
    steps = len(json.loads((site / site_url("tour")).read_text(encoding="utf-8"))["steps"])
    page = opened_on(new_context, server, "phone")
    page.locator(".lw-tour-open").click()
    for step in range(1, steps + 1):
        expect(page.locator(".lw-tour-count")).to_contain_text(re.compile(rf"\b{step}\D+{steps}\b"))
        page.wait_for_load_state("networkidle")
        assert page.evaluate(CUT_OFF) == [], f"the tour at step {step}"
        if step < steps:
            page.locator(".lw-tour-nav button").last.click()


def test_a_horizontal_swipe_changes_the_map(new_context, server, first, site_url):
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
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute(
        "src", site_url("map", input=first["id"], layer="conv1", k=1))
    swipe(80, -6)
    expect(counter).to_have_text(re.compile(r"^1 / "))
    swipe(10, 90)
    swipe(-60, -5)
    expect(counter).to_have_text(re.compile(r"^2 / "))


# Without the script: the controls a reader sees (none should be: each needs the script) and the text, links and
# pictures not shown, outside the picker (the script's controls, hidden whole) and the words on selecting cells.
NO_SCRIPT = """() => {
  const seen = e => { const box = e.getBoundingClientRect();
                      return box.width > 1 && box.height > 1 && getComputedStyle(e).visibility !== 'hidden'; };
  const name = e => `${e.tagName.toLowerCase()}${[...e.classList].map(c => '.' + c).join('')}`
    + ` (in ${e.parentElement.closest('[id]')?.id ?? 'body'}): ${e.textContent.trim().slice(0, 40)}`;
  const controls = [...document.querySelectorAll('button, select, input, textarea, [role=button]')]
    .filter(seen).map(name);
  const needed = 'p, li, h1, h2, h3, h4, figcaption, td, th, a, img, math, table, pre';
  const hidden = [...document.body.querySelectorAll(needed)]
    .filter(e => !e.closest('.lw-picker, .lw-cell-help') && (e.textContent.trim() || e.matches('img')) && !seen(e))
    .map(name);
  return { controls, hidden };
}"""


def test_without_javascript_on_a_phone_nothing_needs_the_script_or_hides_the_text(new_context, server):
    """With scripting off at 375 px, no button or other control shows (the picker, its More and Tour, the
    carousels' arrows all need the script), and every paragraph, heading, cell, link and picture of the article
    is shown, none folded away."""
    page = new_context(java_script_enabled=False, **SCREENS["phone"]).new_page()
    page.goto(server + "index.html")
    expect(page.locator("#fig-conv1 .lw-maps img").first).to_be_visible()
    found = page.evaluate(NO_SCRIPT)
    shoot(page, "phone-no-script")
    assert found["controls"] == [], f"controls that do nothing without the script: {found['controls']}"
    assert found["hidden"] == [], f"hidden without the script: {found['hidden']}"
