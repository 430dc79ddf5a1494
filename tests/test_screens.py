"""Screenshots of every figure in every state the browser tests put it in, on a phone (375 × 812, touch)
and a desktop (1280 × 800), for review: tests/artifacts/screens/<width>/<state>/<figure id>.png, with
the screen as the reader sees it (screen.png) and the picker (picker.png), and a contact sheet of them
all, tests/artifacts/screens/index.html. Each state is checked as it is photographed: no console error,
no failed request, every image shown has loaded, no figure is wider than the screen, no blank picture.

A state is one row of STATES: a link fragment (preferred: a link can say it), a setup that does what a
reader does, and the figures it concerns. A state of a feature this build lacks is skipped, naming it.

    .venv/bin/python -m pytest tests/test_screens.py             # every state at both sizes
    .venv/bin/python -m pytest tests/test_screens.py -k tour      # one family
"""
import html
import json
import re
import shutil
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import ARTIFACTS, choose, click_cell, inspector, layer_of, select

SCREENS = ARTIFACTS / "screens"
SIZES = {375: dict(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True),
         1280: dict(viewport={"width": 1280, "height": 800})}
ALL = ".lw-figure"
# The figures that show the chosen input, or what the network makes of it.
FOLLOWING = ".lw-figure[data-layer], .lw-figure-overview, .lw-figure-attribution"
TOUR_STEPS = 12  # the most a tour has (issue 20: 8–12 steps); states past a tour's end are skipped

# What a figure whose script mounts as it comes near shows once it has: {its class: a selector, in it or it}.
MOUNTED = {"lw-figure-overview": ".lw-glance-class.is-predicted", "lw-figure-attribution": ".lw-attr-surface canvas",
           "lw-figure-confusion": "tbody button", "lw-figure-examples": ".is-chosen"}


@dataclass
class State:
    name: str
    about: str
    fragment: str = ""  # formatted with the facts: '#input={wrong}'
    setup: Callable = lambda page, facts: None
    figures: object = FOLLOWING  # a CSS selector, or a function of the facts that gives one
    sizes: tuple = tuple(SIZES)
    whole: bool = False  # also photograph the whole page, once every figure has loaded
    scheme: str = "light"  # the reader's colour scheme (prefers-color-scheme)


# --- setups: each does what a reader does, and waits for its effect -------------------------------

def needs(facts, name, feature):
    """Skip the state when the built page has no element of class `name`: `feature` is not in this build."""
    if f'class="{name}"' not in facts.html:
        pytest.skip(f"{feature}: this build's page has no .{name}")


def thumbnail(page, facts):
    choose(page, facts.third, facts.site_url)


def upload(page, facts):
    from test_own_input import upload_sample
    data, _ = upload_sample()
    page.locator(".lw-upload input").set_input_files({"name": "coat.png", "mimeType": "image/png", "buffer": data})
    expect(page.locator(".lw-upload-said")).to_contain_text("coat.png: converted")
    expect(page.locator(".lw-status")).to_contain_text("coat.png")


def unfolded(page, selector):
    """A control of the picker, with More pressed first where the phone's one-line picker folds it away."""
    control, more = page.locator(f".lw-picker {selector}"), page.locator(".lw-picker .lw-more")
    if not control.is_visible() and more.count() and more.is_visible():
        more.click()
        expect(more).to_have_attribute("aria-expanded", "true")
    expect(control).to_be_visible()
    return control


def pad_open(page, facts):
    from test_own_input import pad_of
    unfolded(page, ".lw-draw")
    pad_of(page)


def drawing(page, facts):
    from test_own_input import pad_of, settled, stroke
    unfolded(page, ".lw-draw")
    pad = pad_of(page)
    for x in (0.3, 0.5, 0.7):
        stroke(page, pad, [(x, 0.1), (x, 0.9)])
    settled(page)
    expect(page.locator(".lw-status")).to_contain_text("drawing")


def confusion_cell(page, facts):
    """Open the confusion matrix's cell with the most mistakes."""
    figure = page.locator(".lw-figure-confusion")
    figure.scroll_into_view_if_needed()
    expect(figure.locator("tbody button").first).to_be_visible()
    true, wrong = facts.worst_cell
    figure.locator(f"tbody tr:nth-child({true + 1}) td:nth-of-type({wrong + 1}) button").click()
    expect(figure.locator(".lw-cell-image").first).to_be_visible()


def mistake(page, facts):
    """Choose the first test image of the worst cell that the picker does not offer already (one it
    offers chooses its thumbnail instead) as the input."""
    confusion_cell(page, facts)
    offered = {int(value.split("-")[1]) for value in page.locator(".lw-picker input[name=input]").evaluate_all(
        "inputs => inputs.map(input => input.value)") if re.fullmatch(r"test-\d+", value)}
    images = page.locator(".lw-figure-confusion .lw-cell-image")
    shown = [int(text) for text in images.locator("span").all_inner_texts()]
    images.nth(next(n for n, index in enumerate(shown) if index not in offered)).click()
    expect(page).to_have_url(re.compile(r"input=test\.\d+"))
    expect(page.locator(".lw-status")).to_contain_text("Showing")


def inspect_map(layer, k, r, c, channel=None):
    def setup(page, facts):
        select(page, facts.network, layer, k, r, c)
        if channel is not None:
            inspector(page, layer).locator(f'button[data-channel="{channel}"]').click()
            expect(inspector(page, layer).locator(".lw-detail table").first).to_be_visible()
    return setup


def inspect_input(page, facts):
    _, rows, cols = layer_of(facts.network, "input")["shape"]
    click_cell(page, "input", rows // 2, cols // 3, rows, cols)
    expect(inspector(page, "input")).to_contain_text(f"row {rows // 2 + 1}, column {cols // 3 + 1}:")


def inspect_vector(layer, i):
    def setup(page, facts):
        rows, cols = layer_of(facts.network, layer)["grid"]
        click_cell(page, layer, i // cols, i % cols, rows, cols)
        expect(inspector(page, layer)).to_contain_text(f"{layer}, element {i + 1} of")
    return setup


def inspect_output(page, facts):
    figure = page.locator(".lw-figure-logits")
    figure.scroll_into_view_if_needed()
    figure.locator("tbody tr").nth(3).get_by_role("button").click()
    expect(inspector(page, figure.get_attribute("data-layer"))).to_contain_text("element 4 of")


def point_at_map(page, facts):
    overview = page.locator(".lw-figure-overview")
    overview.scroll_into_view_if_needed()
    overview.locator('[data-layer="conv2"][data-k="5"]').hover()
    expect(overview.locator(".lw-glance-said")).to_contain_text("conv2, map 6")


def select_map(page, facts):
    point_at_map(page, facts)
    page.locator('.lw-figure-overview [data-layer="conv2"][data-k="5"]').click()
    expect(page.locator("#fig-conv2 .lw-counter")).to_have_text(re.compile(r"^6 / "))


def ask_examples(page, facts):
    figure = page.locator("#fig-conv2")
    figure.scroll_into_view_if_needed()
    figure.locator(".lw-examples-ask").click()
    expect(figure.locator(".lw-examples-list li").first).to_be_visible()


def examples_made(page, facts):
    figure = page.locator(".lw-figure-examples").first
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-made summary")).to_be_visible()
    figure.locator(".lw-made summary").click()


def attribution_shown(page, facts):
    figure = page.locator(".lw-figure-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-surface canvas").first).to_be_visible()
    expect(figure.locator(".lw-attr-why-sum")).to_contain_text(f"of {facts.classes[facts.versus - 1]} (")


def attribution_channel(page, facts):
    if facts.network["layers"][0]["shape"][0] == 1:
        pytest.skip("the article's inputs have one channel: the channel chooser is a colour image's")
    figure = page.locator(".lw-figure-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-surface canvas").first).to_be_visible()
    expect(figure.locator(".lw-attr-channels")).to_be_visible()


def learning_open(page, facts):
    unfolded(page, ".lw-learning-open").click()
    expect(page.locator(".lw-training-slider")).to_be_focused()


def moment_shown(page, facts):
    expect(page.locator(".lw-status")).to_contain_text(f"training step {facts.moment}")


def compared(page, facts):
    expect(page.locator("#fig-conv1 .lw-maps > li.is-current .lw-pair")).to_be_visible()
    expect(page.locator(".lw-figure-logits td.lw-pair-logit")).to_have_count(len(facts.classes))


def link_said(named, near=None):
    """A link value the page cannot use is named under the picker (`named`: 'name=value', formatted with
    the facts); a figure whose script learns it only once it mounts is brought `near` first."""
    def setup(page, facts):
        needs(facts, "lw-link-said", "bad link values named under the picker")
        if near:
            page.locator(near).scroll_into_view_if_needed()
        expect(page.locator(".lw-link-said")).to_contain_text(named.format(**vars(facts)))
    return setup


def any_test_image(page, facts):
    needs(facts, "lw-test-pick", "every test image, by its number")
    expect(page.locator(".lw-status")).to_contain_text("test image 777")


def type_test_number(page, facts):
    needs(facts, "lw-test-pick", "every test image, by its number")
    field = unfolded(page, ".lw-test-pick")
    field.fill("4321")
    field.press("Enter")
    expect(page).to_have_url(re.compile(r"input=test\.4321\b"))
    expect(page.locator(".lw-status")).to_contain_text("test image 4321")


def header_expanded(page, facts):
    needs(facts, "lw-more", "the phone's one-line picker and its More button")
    page.locator(".lw-more").click()
    expect(page.locator(".lw-more")).to_have_attribute("aria-expanded", "true")


def tour_step(n):
    def setup(page, facts):
        if facts.tour is None:
            pytest.skip("no tour: this build publishes no data/tour.json (content/tour.md)")
        if n > len(facts.tour["steps"]):
            pytest.skip(f"the tour has {len(facts.tour['steps'])} steps")
        panel = page.locator(".lw-tour")
        expect(panel).to_be_visible()
        expect(panel).to_contain_text(facts.tour["steps"][n - 1]["title"])
        if facts.tour["steps"][n - 1].get("question"):
            panel.locator(".lw-tour-choices input").first.check()  # a guess first, as a reader predicts
            panel.locator(".lw-tour-reveal").click()
            expect(panel.locator(".lw-tour-answer")).to_be_visible()
    return setup


def tour_target(n):
    """The element a tour step is about (its target), by id: a figure, or the picker."""
    return lambda facts: f"#{facts.tour['steps'][n - 1]['target']}"


STATES = [
    State("default", "The page as it opens: the first input (page.png: all of it).", figures=ALL, whole=True),
    State("dark", "The page as it opens, in a reader's dark colour scheme.", figures=ALL, scheme="dark"),
    State("input-thumbnail", "The third thumbnail chosen in the picker.", setup=thumbnail),
    State("input-link", "A link names a misclassified input.", "#input={wrong}"),
    State("input-position", "A link names an input by its place in the picker.", "#input=2"),
    State("input-test-image", "A link names a test image of the confusion matrix.", "#input=test.{test_image}"),
    State("input-test-any", "A link names any test image by its number.", "#input=test.777", setup=any_test_image),
    State("input-test-number", "A test image's number typed in the picker.", setup=type_test_number),
    State("input-upload", "An uploaded picture, with what was done to it under the picker.", setup=upload),
    State("pad-open", "The drawing pad open, nothing drawn.", setup=pad_open, figures=".lw-figure-input"),
    State("input-drawing", "Three strokes drawn on the pad.", setup=drawing),
    State("input-mistake", "A test image chosen from the confusion matrix's worst cell.", setup=mistake,
          figures=f"{FOLLOWING}, .lw-figure-confusion"),
    State("confusion-cell", "The confusion matrix's worst cell open on its mistakes.", setup=confusion_cell,
          figures=".lw-figure-confusion"),
    State("moment", "A learning moment: the network halfway through training.", "#at={moment}",
          setup=moment_shown, figures=f"{FOLLOWING}, .lw-figure-training"),
    State("learning-open", "The Learning slider opened from the picker.", setup=learning_open,
          figures=".lw-figure-training"),
    State("compare", "A second input beside the first in every figure.", "#input={last}&compare={first}&conv2=4",
          setup=compared),
    State("compare-moment", "Two inputs at a learning moment.", "#input={last}&compare={first}&at={moment}",
          setup=compared),
    State("inspect-input", "The inspector open on a pixel of the input.", setup=inspect_input,
          figures=".lw-figure[data-layer=input]"),
    State("inspect-conv1", "The inspector open on a conv1 value.", setup=inspect_map("conv1", 2, 10, 12),
          figures="#fig-conv1"),
    State("inspect-conv2-channel", "The inspector on a conv2 value, one input map's contribution open.",
          setup=inspect_map("conv2", 4, 5, 5, channel=3), figures="#fig-conv2"),
    State("inspect-relu1", "The inspector open on a relu1 value.", setup=inspect_map("relu1", 1, 14, 14),
          figures="#fig-relu1"),
    State("inspect-pool1", "The inspector open on a pool1 value.", setup=inspect_map("pool1", 1, 7, 7),
          figures="#fig-pool1"),
    State("inspect-flatten", "The inspector on a flatten element, pointing at its pool2 cell.",
          setup=inspect_vector("flatten", 700), figures="#fig-flatten, #fig-pool2"),
    State("inspect-fc1", "The inspector open on an fc1 unit.", setup=inspect_vector("fc1", 21), figures="#fig-fc1"),
    State("inspect-relu3", "The inspector open on a relu3 unit.", setup=inspect_vector("relu3", 21),
          figures="#fig-relu3"),
    State("inspect-output", "The output table's fourth class chosen: its logit explained.", setup=inspect_output,
          figures=".lw-figure-logits, .lw-figure-attribution"),
    State("overview-pointed", "A conv2 map pointed at in the overview: its sources outlined.", setup=point_at_map,
          figures=".lw-figure-overview"),
    State("overview-selected", "A conv2 map selected in the overview: its figure shows it.", setup=select_map,
          figures=".lw-figure-overview, #fig-conv2"),
    State("examples-panel", "What does map 11 of conv2 look for?", "#conv2=11", setup=ask_examples,
          figures="#fig-conv2"),
    State("examples-made", "The examples figure with how its made image was made open.", setup=examples_made,
          figures=".lw-figure-examples"),
    State("attribution-versus", "Why the prediction and not the true class, with a pixel chosen.",
          "#input={wrong}&versus={versus}&pixel=12,9", setup=attribution_shown,
          figures=".lw-figure-attribution, .lw-figure-logits"),
    State("attribution-channel", "The attribution of one channel of a colour input.",
          "#input={wrong}&channel=2", setup=attribution_channel, figures=".lw-figure-attribution"),
    State("bad-input-link", "A link to a drawing the page cannot read.", "#input=draw.not-a-drawing",
          setup=link_said("input=draw.not-a-drawing"), figures="#fig-conv1"),
    State("bad-moment-link", "A link to a learning moment that was not kept.", "#at={bad_moment}",
          setup=link_said("at={bad_moment}"), figures="#fig-conv1, .lw-figure-training"),
    State("bad-map-link", "A link to conv1's map 999.", "#conv1=999", setup=link_said("conv1=999"),
          figures="#fig-conv1"),
    State("bad-versus-link", "A link to 'why not' a class that does not exist.", "#versus=99",
          setup=link_said("versus=99", near=".lw-figure-attribution"), figures=".lw-figure-attribution"),
    State("bad-tour-link", "A link to tour step 0.", "#tour=0", setup=link_said("tour=0"), figures=""),
    State("header-expanded", "On a phone, the pinned picker's More pressed.", setup=header_expanded, figures="",
          sizes=(375,)),
    *(State(f"tour-{n}", f"Tour step {n}, its question revealed.", f"#tour={n}", setup=tour_step(n),
            figures=tour_target(n)) for n in range(1, TOUR_STEPS + 1)),
    State("dark-tour-3", "Tour step 3 in the dark colour scheme, its question revealed.", "#tour=3", setup=tour_step(3),
          figures=tour_target(3), scheme="dark"),
]


# --- the browser and the facts the states are written with -----------------------------------------

@pytest.fixture(scope="module")
def contexts(browser):
    """One browser context per size, shared by every state at that size (the HTTP cache with it)."""
    made = {}
    yield lambda width: made.setdefault(width, browser.new_context(**SIZES[width]))
    for context in made.values():
        context.close()


@pytest.fixture(scope="module")
def facts(site, site_url, summaries, network_json):
    """The inputs, classes and moments the states' links name, read from the built site."""
    wrong = next(s for s in summaries if s["label"] is not None and s["label"] != s["predicted"])
    confusion = json.loads((site / site_url("confusion")).read_text(encoding="utf-8"))
    worst = max((cell for cell in confusion["cells"] if len(set(cell.split("-"))) == 2),
                key=lambda cell: len(confusion["cells"][cell]))
    steps = json.loads((site / site_url("learning_record")).read_text(encoding="utf-8"))["steps"]
    tour = site / "data" / "tour.json"
    return SimpleNamespace(
        network=network_json, site_url=site_url, classes=network_json["classes"],
        first=summaries[0]["id"], third=summaries[2], last=summaries[-1]["id"], wrong=wrong["id"],
        versus=next(c for c in range(len(network_json["classes"])) if c not in (wrong["label"], wrong["predicted"])) + 1,
        worst_cell=tuple(int(n) for n in worst.split("-")), test_image=confusion["cells"][worst][0],
        moment=steps[len(steps) // 2], bad_moment=next(n for n in range(2, 10 ** 6) if n not in steps),
        tour=json.loads(tour.read_text(encoding="utf-8")) if tour.is_file() else None,
        html=(site / "index.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def contact_sheet():
    """Write tests/artifacts/screens/index.html once the module's states are photographed."""
    yield
    write_contact_sheet()


# --- the checks ------------------------------------------------------------------------------------

# A figure is ready to be photographed when its script has mounted, its images have loaded and its size
# and place have stayed the same for ten frames (a figure some script is still filling in grows as it
# goes; a page scrolled to a figure moves for a while): every figure `selector` finds, or those on the screen.
SETTLED = """([selector, onScreen, mounted]) => [...document.querySelectorAll(selector)].every(root => {
  const box = root.getBoundingClientRect();
  if (onScreen && (box.bottom <= 0 || box.top >= innerHeight)) return true;
  const shown = [...root.querySelectorAll('img')].filter(img => img.getClientRects().length);
  const ready = Object.entries(mounted).every(([kind, selector]) =>
    !root.classList.contains(kind) || root.matches(selector) || root.querySelector(selector));
  const size = `${box.top} ${box.width} ${box.height}`;
  root.lwFrames = root.lwSize === size ? (root.lwFrames ?? 0) + 1 : 0;
  root.lwSize = size;
  return ready && shown.every(img => img.complete) && root.lwFrames >= 10;
})"""

UNLOADED = """root => [...root.querySelectorAll('img')]
  .filter(img => img.getClientRects().length && !img.naturalWidth).map(img => img.getAttribute('src'))"""

# Anything in a figure that reaches past the screen's edges, unless a scrolling box inside the figure holds it.
TOO_WIDE = """root => {
  const width = document.documentElement.clientWidth;
  const out = e => { const box = e.getBoundingClientRect(); return box.width && (box.left < -0.5 || box.right > width + 0.5); };
  const held = e => { for (let p = e.parentElement; p && p !== root.parentElement; p = p.parentElement)
                        if (getComputedStyle(p).overflowX !== 'visible') return true;
                      return false; };
  return [root, ...root.querySelectorAll('*')].filter(e => out(e) && (e === root || !held(e)))
    .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} (${Math.round(e.getBoundingClientRect().left)}` +
              `–${Math.round(e.getBoundingClientRect().right)} px of ${width})`);
}"""


# Where a figure is, frame after frame: [its top, its height, scrollY].
MOVING = """async root => { const seen = [];
  for (let i = 0; i < 10; i++) {
    await new Promise(done => requestAnimationFrame(done));
    const box = root.getBoundingClientRect();
    seen.push([Math.round(box.top), Math.round(box.height), Math.round(scrollY)]);
  }
  return seen; }"""


def watch(page):
    """Collect the page's console errors, uncaught exceptions and failed requests in page.problems."""
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: page.problems.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda request: page.problems.append(f"failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400
            and page.problems.append(f"HTTP {response.status}: {response.url}"))


def not_blank(path):
    with Image.open(path) as image:
        assert image.convert("RGB").getcolors(1) is None, f"{path} is one colour"


def shoot_figure(page, figure, path):
    figure.scroll_into_view_if_needed()
    what = figure.get_attribute("id")
    page.wait_for_function(SETTLED, arg=[f"#{what}", False, MOUNTED], polling="raf")
    assert figure.evaluate(UNLOADED) == [], f"{what}: images that did not load"
    assert figure.evaluate(TOO_WIDE) == [], f"{what}: wider than the screen"
    try:
        figure.screenshot(path=path)
    except PlaywrightTimeout:
        raise AssertionError(f"{what} never stood still to be photographed; over ten frames its top, its height "
                             f"and the page's scroll were {figure.evaluate(MOVING)}") from None
    not_blank(path)


def crop(screen, box, path):
    """The part `box` (viewport pixels) of a screenshot of the screen: a pinned element, which an element
    screenshot would look for where it would be in the page, not where it is pinned."""
    with Image.open(screen) as image:
        image.crop((round(box["x"]), round(max(box["y"], 0)), round(box["x"] + box["width"]),
                    round(min(box["y"] + box["height"], image.height)))).save(path)
    not_blank(path)


def hide_picker(page, hidden):
    """The sticky picker would lie over a figure photographed under it; it keeps its place in the layout."""
    page.evaluate("hidden => { const p = document.querySelector('.lw-picker'); if (p) p.style.visibility = "
                  "hidden ? 'hidden' : ''; }", hidden)


@pytest.mark.parametrize("width,state", [pytest.param(width, state, id=f"{width}-{state.name}")
                                         for width in SIZES for state in STATES if width in state.sizes])
def test_every_figure_in_every_state(contexts, server, facts, width, state):
    folder = SCREENS / str(width) / state.name
    shutil.rmtree(folder, ignore_errors=True)
    page = contexts(width).new_page()
    page.set_default_timeout(10_000)  # a page that is ready has no step that waits longer
    try:
        watch(page)
        page.emulate_media(color_scheme=state.scheme)
        open_page(page, server, state.fragment.format(**vars(facts)))
        state.setup(page, facts)
        folder.mkdir(parents=True)
        (folder / "about.txt").write_text(state.about + "\n", encoding="utf-8")
        page.wait_for_function(SETTLED, arg=[".lw-figure", True, MOUNTED], polling="raf")
        page.screenshot(path=folder / "screen.png")
        not_blank(folder / "screen.png")
        crop(folder / "screen.png", page.locator(".lw-picker").bounding_box(), folder / "picker.png")
        page.evaluate("dispatchEvent(new WheelEvent('wheel'))")  # the reader scrolls on (the tour stops placing)
        hide_picker(page, True)
        selector = state.figures(facts) if callable(state.figures) else state.figures
        figures = [f for f in page.locator(selector).all() if not f.evaluate("e => e.matches('.lw-picker')")] \
            if selector else []  # the picker is picker.png
        for figure in figures:
            shoot_figure(page, figure, folder / f"{figure.get_attribute('id')}.png")
        hide_picker(page, False)
        if state.whole:
            page.evaluate("scrollTo(0, 0)")
            page.screenshot(path=folder / "page.png", full_page=True)
            not_blank(folder / "page.png")
        assert page.problems == [], f"{state.name} at {width} px: " + "; ".join(page.problems)
    finally:
        page.close()
        if folder.exists() and not any(folder.glob("*.png")):
            shutil.rmtree(folder)


def write_contact_sheet():
    """tests/artifacts/screens/index.html: every state photographed, a row of its figures per size."""
    if not SCREENS.is_dir():
        return
    known = {state.name: state.about for state in STATES}
    order = {name: n for n, name in enumerate(known)}
    sections = []
    names = sorted({folder.name for folder in SCREENS.glob("*/*") if folder.is_dir()},
                   key=lambda name: order.get(name, len(order)))
    for name in names:
        rows = []
        for width in SIZES:
            shots = sorted((SCREENS / str(width) / name).glob("*.png"),
                           key=lambda p: (p.stem not in ("screen", "picker"), p.stem != "screen", p.stem))
            cells = "".join(f'<figure><a href="{p.relative_to(SCREENS)}"><img src="{p.relative_to(SCREENS)}" '
                            f'loading="lazy" alt=""></a><figcaption>{html.escape(p.stem)}</figcaption></figure>'
                            for p in shots)
            if cells:
                rows.append(f'<h3>{width} px</h3><div class="row">{cells}</div>')
        sections.append(f'<section id="{name}"><h2>{html.escape(name)}</h2><p>{html.escape(known.get(name, ""))}</p>'
                        + "".join(rows) + "</section>")
    contents = "".join(f'<li><a href="#{name}">{html.escape(name)}</a></li>' for name in names)
    (SCREENS / "index.html").write_text(f"""<!doctype html>
<html lang="en"><meta charset="utf-8"><title>layerwise: every figure in every state</title>
<style>body{{font:14px system-ui;margin:1em}} .row{{display:flex;gap:12px;overflow-x:auto;align-items:flex-start}}
figure{{margin:0}} img{{max-height:420px;border:1px solid #ccc}} figcaption{{font-size:12px;color:#555}}
ol{{columns:4}}</style>
<h1>Every figure in every state</h1><p>Written by tests/test_screens.py. Sizes: {", ".join(f"{w} px" for w in SIZES)}.</p>
<ol>{contents}</ol>
{"".join(sections)}
</html>
""", encoding="utf-8")
