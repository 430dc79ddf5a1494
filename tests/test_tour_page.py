"""The guided tour in a real Chromium, at 375 × 812 and 1280 × 800: started from the Tour button and
walked step by step, its target scrolled clear of the pinned picker and of the tour's panel, its control
outlined; by keyboard alone; its predict-first questions revealing the network's own values (read here
with NumPy from the published float32 outputs) for whichever input the reader chose; opened by a link at a
step; a step past the last named under the picker; nothing of it loaded before it starts; axe-core clean
with it open at each step in the light and the dark colour scheme.

Screenshots of each step land in tests/artifacts/tour/<width>/step-<N>.png.

    .venv/bin/python -m pytest tests/test_tour_page.py
"""
import json
import re

import pytest
from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import (ARTIFACTS, choose, contrast, header, layer_of, picker_bottom, printed, rgb,
                            wait_for_images)
from test_axe import AXE, violations

PANEL, COUNT, TITLE = ".lw-tour", ".lw-tour-count", "#lw-tour-title"
ANSWER, REVEAL, NEXT = ".lw-tour-answer", ".lw-tour-reveal", ".lw-tour-next"
SIZES = {"phone": (375, 812), "wide": (1280, 800)}

# Where the step's control is on screen, and what lies over it: the part of it between the pinned picker
# and the panel (where the panel lies across it), and the elements found at the top and bottom of that part.
GEOMETRY = """([target, pickerBottom]) => {
  const control = document.querySelector('.lw-tour-control');
  const box = control.getBoundingClientRect(), panel = document.querySelector('.lw-tour').getBoundingClientRect();
  const across = panel.left < box.right && panel.right > box.left;
  const top = target === 'lw-picker' ? 0 : pickerBottom, bottom = across ? panel.top : innerHeight;
  const seenTop = Math.max(box.top, top), seenBottom = Math.min(box.bottom, bottom);
  const x = Math.min(Math.max((box.left + box.right) / 2, 1), innerWidth - 1);
  const inside = y => { const hit = document.elementFromPoint(x, y); return !!hit && control.contains(hit); };
  const targetBox = document.getElementById(target).getBoundingClientRect();
  const style = getComputedStyle(control);
  let behind = control.parentElement;
  while (behind && getComputedStyle(behind).backgroundColor.match(/rgba\\(.*, 0\\)|transparent/)) behind = behind.parentElement;
  return { top: box.top, height: box.height, room: bottom - top, roomTop: top, seen: seenBottom - seenTop,
           topInside: inside(seenTop + 2), bottomInside: inside(seenBottom - 2),
           targetSeen: Math.min(targetBox.bottom, bottom) - Math.max(targetBox.top, top),
           outline: [style.outlineStyle, parseFloat(style.outlineWidth), style.outlineColor],
           background: getComputedStyle(behind ?? document.body).backgroundColor };
}"""


@pytest.fixture(scope="module")
def tour(site, contract):
    """data/tour.json as the build published it."""
    assert "tour" in contract["urls"], "the built site has no tour: is content/tour.md there?"
    return json.loads((site / contract["urls"]["tour"]).read_text(encoding="utf-8"))


def at_step(page, tour, n):
    """Wait until the panel shows step n, its title focused and named in the link."""
    step = tour["steps"][n - 1]
    expect(page.locator(COUNT)).to_have_text(f"Step {n} of {len(tour['steps'])}")
    expect(page.locator(TITLE)).to_have_text(step["title"])
    expect(page.locator(TITLE)).to_be_focused()
    expect(page).to_have_url(re.compile(rf"[#&]tour={n}(&|$)"))
    return step


# --- what the network answers (the oracle) -------------------------------------------------------

def expected_answer(question, record, network_json, contract):
    """(the right choice's value, what the page says) for a question and an input, from the .f32 outputs."""
    said = contract["texts"]
    exact = record["exact"][question["layer"]] if "layer" in question else None
    ask = question["ask"]
    if ask == "sign":
        k, r, c = question["at"]
        if exact.ndim == 3:
            value = exact[k, r, c]
        else:
            cols = layer_of(network_json, question["layer"])["grid"][1]
            value = exact[r * cols + c]
        sign = "positive" if value > 0 else "negative" if value < 0 else "zero"
        return sign, said["tour_sign"].format(value=printed(value), sign=said[f"tour_{sign}"])
    if ask == "brightest":
        maps = question.get("maps") or list(range(exact.shape[0]))
        k = max(maps, key=lambda m: exact[m].max())
        return str(k), said["tour_brightest"].format(number=k + 1, value=printed(exact[k].max()))
    if ask == "zeroed":
        zeros, total = int((exact == 0).sum()), exact.size
        half = "more" if zeros > total / 2 else "fewer"
        return half, said["tour_zeroed"].format(count=f"{zeros:,}", total=f"{total:,}",
                                                share=f"{100 * zeros / total:.1f}%", half=said[f"tour_{half}"])
    if ask == "winner":
        classes = question.get("classes") or list(range(len(record["classes"])))
        c, answer = max(classes, key=lambda i: exact[i]), int(exact.argmax())
        return str(c), said["tour_winner" if c == answer else "tour_winner_of"].format(
            cls=record["classes"][c], what=contract["output"]["value"], value=printed(exact[c]),
            answer=record["classes"][answer])
    raise AssertionError(f"a question this test does not know: {ask}")


def revealed_text(guess, question, record, network_json, contract):
    right, answer = expected_answer(question, record, network_json, contract)
    said = contract["texts"]
    verdict = said["tour_right" if guess == right else "tour_wrong"].format(answer=answer)
    return f"{verdict} {said['tour_explained']}"


def guess_and_reveal(page):
    """Choose the first answer offered and reveal; returns the value of the choice."""
    first = page.locator(".lw-tour-choices input").first
    first.check()
    page.locator(REVEAL).click()
    return first.get_attribute("value")


# --- the tests -------------------------------------------------------------------------------------

def test_nothing_of_the_tour_loads_before_it_starts(opened, tour):
    page = opened
    page.locator("#fig-confusion").scroll_into_view_if_needed()  # the figures load their scripts; the tour's not
    expect(page.locator("#fig-confusion .lw-confusion")).to_be_visible()
    tour_files = lambda: [url for url in page.requests if url.rsplit("/", 1)[-1] in ("tour.js", "tour.css", "tour.json")]
    assert tour_files() == [], "the tour loaded before the reader started it"
    page.locator(".lw-tour-open").click()
    expect(page.locator(COUNT)).to_have_text(f"Step 1 of {len(tour['steps'])}")
    assert sorted(url.rsplit("/", 1)[-1] for url in tour_files()) == ["tour.css", "tour.js", "tour.json"]
    assert page.errors == []


@pytest.mark.parametrize("size, scheme", [("phone", "light"), ("wide", "dark")])
def test_every_step_shows_its_target_clear_of_the_header_and_the_panel(new_context, server, tour, contract,
                                                                       size, scheme):
    width, height = SIZES[size]
    page = new_context(viewport={"width": width, "height": height}, color_scheme=scheme).new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, server)
    page.locator(".lw-tour-open").click()
    folder = ARTIFACTS / "tour" / str(width)
    folder.mkdir(parents=True, exist_ok=True)
    for n, step in enumerate(tour["steps"], 1):
        at_step(page, tour, n)
        target = page.locator(f"#{step['target']}")
        wait_for_images(target)
        control = page.locator(".lw-tour-control")
        expect(control).to_have_count(1)
        selector = step["control"] and contract["tour_controls"][step["control"]]
        assert target.evaluate("(t, s) => (s ? t.querySelector(s) : t).classList.contains('lw-tour-control')",
                               selector), f"step {n}: the outline is not on its control"
        where = page.evaluate(GEOMETRY, [step["target"], picker_bottom(page)])
        what = f"step {n} ({step['title']}) at {width} px: {where}"
        style, outline_width, colour = where["outline"]
        assert style != "none" and outline_width >= 2, f"{what}: the control is not outlined"
        assert contrast(rgb(colour), rgb(where["background"])) >= 3, f"{what}: the outline is faint against its background"
        assert where["targetSeen"] > 0, f"{what}: the target is not in view"
        assert where["top"] >= where["roomTop"] - 1, f"{what}: the control's top is under the pinned picker"
        # As much of it as the room allows (less a few pixels kept clear above it)
        assert where["seen"] >= min(where["height"], where["room"] - 10) - 1, f"{what}: the control is covered"
        assert where["topInside"] and where["bottomInside"], f"{what}: something lies over the control"
        page.screenshot(path=str(folder / f"step-{n}.png"))
        page.locator(NEXT).click()
    expect(page.locator(PANEL)).to_be_hidden()
    assert "tour=" not in page.evaluate("location.hash")
    assert errors == []


@pytest.mark.parametrize("size", SIZES)
def test_the_tour_by_keyboard_alone(new_context, server, tour, input_records, network_json, contract, size):
    width, height = SIZES[size]
    page = new_context(viewport={"width": width, "height": height}).new_page()
    open_page(page, server)
    tab_to(page, ".lw-tour-open")
    page.keyboard.press("Enter")
    count = len(tour["steps"])
    for n, step in enumerate(tour["steps"], 1):
        at_step(page, tour, n)
        # For a screen reader: a dialog named by its step, and the step announced as it comes
        expect(page.get_by_role("dialog", name=f"Step {n} of {count} {step['title']}")).to_be_visible()
        expect(page.locator(".lw-tour-said")).to_have_text(
            contract["texts"]["tour_said"].format(number=n, count=count, title=step["title"]))
        if step["question"]:
            tab_to(page, ".lw-tour-choices input")
            page.keyboard.press("Space")
            guess = page.evaluate("document.activeElement.value")
            tab_to(page, REVEAL)
            page.keyboard.press("Enter")
            expect(page.locator(ANSWER)).to_have_text(
                revealed_text(guess, step["question"], input_records[0], network_json, contract))
        if n == 3:  # Escape closes; the Tour button then offers to resume at the step, and does
            page.keyboard.press("Escape")
            expect(page.locator(PANEL)).to_be_hidden()
            expect(page.locator(".lw-tour-open")).to_be_focused()
            expect(page.locator(".lw-tour-open")).to_have_text(contract["texts"]["tour_resume"].format(number=3))
            assert "tour=" not in page.evaluate("location.hash")
            page.keyboard.press("Space")
            at_step(page, tour, 3)
        tab_to(page, NEXT)
        page.keyboard.press("Enter")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(".lw-tour-open")).to_have_text("Tour")


def tab_to(page, selector, most=80):
    """Press Tab until the focused element matches `selector`; it must then be in sight, nothing over it."""
    for _ in range(most):
        if page.evaluate("s => document.activeElement?.matches(s)", selector):
            assert page.evaluate(UNCOVERED), f"the focused {selector} is out of sight or under something"
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{most} presses of Tab never reached {selector}")


UNCOVERED = """() => {
  const focused = document.activeElement, box = focused.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return !!hit && (focused.contains(hit) || hit.contains(focused));
}"""


def test_back_and_close_buttons(page, server, tour):
    open_page(page, server)
    page.locator(".lw-tour-open").click()
    page.locator(NEXT).click()
    at_step(page, tour, 2)
    page.locator(".lw-tour-back").click()
    at_step(page, tour, 1)
    expect(page.locator(".lw-tour-back")).to_be_disabled()
    page.locator(".lw-tour-close").click()
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(".lw-tour-control")).to_have_count(0)


def test_closed_part_way_the_tour_resumes_there_after_a_reload(page, server, tour, contract):
    open_page(page, server, "#tour=4")
    at_step(page, tour, 4)
    page.locator(".lw-tour-close").click()
    expect(page.locator(".lw-tour-open")).to_have_text(contract["texts"]["tour_resume"].format(number=4))
    open_page(page, server)  # the same tab: its sessionStorage remembers the step
    page.locator(".lw-tour-open").click()
    at_step(page, tour, 4)
    page.locator(".lw-tour-back").click()
    at_step(page, tour, 3)


def test_each_revealed_value_is_the_networks_and_follows_the_input(page, server, tour, input_records, network_json,
                                                                   contract, site_url):
    open_page(page, server)
    page.locator(".lw-tour-open").click()
    first = input_records[0]
    asked = [(n, step) for n, step in enumerate(tour["steps"], 1) if step["question"]]
    assert {step["question"]["ask"] for _, step in asked} >= {"sign", "winner"}
    for n, step in asked:
        page.goto(f"{server}index.html#input={first['id']}&tour={n}")
        at_step(page, tour, n)
        question = step["question"]
        guess = guess_and_reveal(page)
        expect(page.locator(ANSWER)).to_have_text(revealed_text(guess, question, first, network_json, contract))
        if question["ask"] == "sign" and len(layer_of(network_json, question["layer"])["shape"]) == 3:
            k, r, c = question["at"]  # the value is selected: its inspector shows its arithmetic
            expect(header(page, question["layer"])).to_contain_text(
                f"{question['layer']}, map {k + 1}, row {r + 1}, column {c + 1}:")
        # Another input: the answer follows it, for the first input whose answer reads otherwise.
        other = next((record for record in input_records[1:]
                      if expected_answer(question, record, network_json, contract)
                      != expected_answer(question, first, network_json, contract)), None)
        if other is None:
            continue
        choose(page, other, site_url)
        expect(page.locator(ANSWER)).to_have_text(revealed_text(guess, question, other, network_json, contract))


def test_a_link_opens_the_tour_at_its_step(page, server, tour):
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    open_page(page, server, "#tour=3")
    at_step(page, tour, 3)
    expect(page.locator(".lw-tour-control")).to_be_in_viewport()
    assert page.errors == []


def test_a_step_past_the_last_is_named_and_the_tour_opens_at_step_1(page, server, tour, contract):
    count = len(tour["steps"])
    open_page(page, server, f"#tour={count + 89}")
    said = contract["texts"]
    expect(page.locator(".lw-link-said")).to_have_text(said["link_unusable"].format(
        name="tour", value=count + 89, why=said["link_tour"].format(count=count)))
    at_step(page, tour, 1)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_with_the_tour_open_at_each_step(new_context, server, tour, scheme):
    page = new_context(bypass_csp=True, color_scheme=scheme).new_page()  # the CSP rightly refuses axe
    open_page(page, server)
    page.add_script_tag(path=str(AXE))
    page.locator(".lw-tour-open").click()
    for n, step in enumerate(tour["steps"], 1):
        at_step(page, tour, n)
        if step["question"]:
            guess_and_reveal(page)
            expect(page.locator(ANSWER)).not_to_be_empty()
            if step["question"]["ask"] != "zeroed":  # the revealed value is selected: wait for its arithmetic
                layer_id = step["question"]["layer"]
                expect(header(page, layer_id)).to_contain_text(f"{layer_id}, ")
        wait_for_images(page.locator(f"#{step['target']}"))
        expect(page.locator(".lw-glance-map:not([aria-label])")).to_have_count(0)  # the overview has drawn
        assert violations(page) == [], f"with the tour open at step {n} ({step['title']}), {scheme}"
        page.locator(NEXT).click()



def test_a_step_0_is_named_and_the_tour_stays_closed(page, server, contract):
    open_page(page, server, "#tour=0")
    said = contract["texts"]
    expect(page.locator(".lw-link-said")).to_have_text(
        said["link_unusable"].format(name="tour", value="0", why=said["link_count"]))
    expect(page.locator(PANEL)).to_have_count(0)  # tour.js did not even load


def test_a_tour_link_to_a_page_without_a_tour_is_named(page, server, contract):
    without = {**contract, "urls": {name: url for name, url in contract["urls"].items() if name != "tour"}}
    page.route("**/data/contract.json", lambda route: route.fulfill(json=without))
    open_page(page, server, "#tour=2")
    said = contract["texts"]
    expect(page.locator(".lw-link-said")).to_have_text(
        said["link_unusable"].format(name="tour", value="2", why=said["link_no_tour"]))
    expect(page).not_to_have_url(re.compile("tour="))
    expect(page.locator(PANEL)).to_have_count(0)


@pytest.mark.parametrize("dropped_file", [r"/data/tour\.json$", r"/static/tour\.css$"])
def test_a_tour_that_failed_to_load_loads_on_the_next_press(page, server, tour, dropped_file):
    """The tour's steps or stylesheet failing to arrive (the connection dropped) are not kept as the tour: the next
    press loads them. (A module whose own fetch failed, the browser keeps failed; the page's files it asks for again.)"""
    dropped = []

    def drop_once(route):
        if dropped:
            return route.continue_()
        dropped.append(route.request.url)
        return route.abort()

    page.route(re.compile(dropped_file), drop_once)
    open_page(page, server)
    with page.expect_event("pageerror"):  # the failed load, uncaught as any is
        page.locator(".lw-tour-open").click()
    assert dropped
    page.locator(".lw-tour-open").click()
    expect(page.locator(COUNT)).to_have_text(f"Step 1 of {len(tour['steps'])}")


def test_the_revealed_value_is_selected_at_the_reveal_only(page, server, tour, input_records, network_json, contract,
                                                           site_url):
    """Reveal selects the answer's value; when the input changes, the answer follows it but the page does not
    select the value again over what the reader has (the store's rule: a new input, nothing selected)."""
    first = input_records[0]
    differs = lambda question, record: (expected_answer(question, record, network_json, contract)
                                         != expected_answer(question, first, network_json, contract))
    n, question, other = next((n, step["question"], record) for n, step in enumerate(tour["steps"], 1)
                              if step["question"] and step["question"]["ask"] == "sign"
                              and len(layer_of(network_json, step["question"]["layer"])["shape"]) == 3
                              for record in input_records[1:] if differs(step["question"], record))
    open_page(page, server, f"#input={first['id']}&tour={n}")
    at_step(page, tour, n)
    guess = guess_and_reveal(page)
    k, r, c = question["at"]
    expect(header(page, question["layer"])).to_contain_text(
        f"{question['layer']}, map {k + 1}, row {r + 1}, column {c + 1}:")
    choose(page, other, site_url)
    expect(page.locator(ANSWER)).to_have_text(revealed_text(guess, question, other, network_json, contract))
    expect(page.locator(f"#fig-{question['layer']} .lw-cursor:visible")).to_have_count(0)


def test_a_winner_of_some_classes_says_the_networks_answer_is_another(page, server, tour, input_records, network_json,
                                                                     contract):
    """A winner question naming classes (classes=) that leave out the network's answer says which of them scores
    highest and what the network picks, not that the network picks it. The tour served is the built one with
    its winner question limited to two classes the network does not pick for the first input."""
    first = input_records[0]
    n, step = next((n, step) for n, step in enumerate(tour["steps"], 1)
                   if step["question"] and step["question"]["ask"] == "winner")
    logits = first["exact"][step["question"].get("layer") or network_json["layers"][-1]["id"]]
    question = {**step["question"], "classes": [int(c) for c in logits.argsort()[-3:-1]]}  # second and third
    served = {**tour, "steps": [{**each, "question": question} if each is step else each for each in tour["steps"]]}
    page.route(re.compile(r"/data/tour\.json$"), lambda route: route.fulfill(json=served))
    open_page(page, server, f"#input={first['id']}&tour={n}")
    at_step(page, tour, n)
    guess = guess_and_reveal(page)
    expected = revealed_text(guess, question, first, network_json, contract)
    assert contract["texts"]["tour_winner_of"].split("{")[0] in expected  # the oracle says the other words
    expect(page.locator(ANSWER)).to_have_text(expected)


# Where the revealed value's working (the inspector under its figure) is, and whether the panel covers it or the
# article's column.
WORKING = """([layer, pickerBottom]) => {
  const box = document.querySelector(`#fig-${layer} .lw-inspector`).getBoundingClientRect();
  const panel = document.querySelector('.lw-tour').getBoundingClientRect();
  const column = document.querySelector('article').getBoundingClientRect();
  const across = panel.left < box.right && panel.right > box.left;
  const bottom = across ? panel.top : innerHeight;
  const seen = Math.min(box.bottom, bottom) - Math.max(box.top, pickerBottom);
  return { seen, height: box.height, room: bottom - pickerBottom, overColumn: panel.left < column.right - 1,
           roomForPanel: innerWidth - column.right >= 16 * 16 + 32 };
}"""


@pytest.mark.parametrize("size", SIZES)
def test_after_a_reveal_the_working_is_in_view_and_the_panel_beside_the_column(new_context, server, tour, size):
    """The answer says the figure shows how it was computed: after Reveal the inspector's lines lie between the
    pinned picker and the panel; on a window with room beside the article's column the panel lies there."""
    width, height = SIZES[size]
    page = new_context(viewport={"width": width, "height": height}).new_page()
    open_page(page, server)
    page.locator(".lw-tour-open").click()
    for n, step in enumerate(tour["steps"], 1):
        at_step(page, tour, n)
        question = step["question"]
        if question and question["ask"] != "zeroed":
            guess_and_reveal(page)
            expect(header(page, question["layer"])).to_contain_text(f"{question['layer']}, ")
            wait_for_images(page.locator(f"#fig-{question['layer']}"))
            page.wait_for_function(f"""() => {{ const w = ({WORKING})(['{question["layer"]}',
                document.querySelector('.lw-picker').getBoundingClientRect().bottom]);
                return w.seen >= Math.min(w.height, w.room - 10) - 1; }}""")
            where = page.evaluate(WORKING, [question["layer"], picker_bottom(page)])
            if where["roomForPanel"]:
                assert not where["overColumn"], f"step {n} at {width} px: the panel lies over the article's column"
        page.locator(NEXT).click()
