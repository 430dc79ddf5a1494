"""The page by keyboard alone, in a real Chromium: Tab reaches every control with a visible focus ring,
arrows choose the input, step the maps and move the selection, and focus stays clear of the sticky picker.

Focusing a surface selects a value, whose inspector fills in asynchronously (its code and numbers
load when first needed); each step waits for that before pressing the next key.

    .venv/bin/python -m pytest tests/test_keyboard.py
"""
import re

from playwright.sync_api import expect

from reader_helpers import current_surface, header, inspector, layer_of, picker_bottom

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const opacity = n => n ? +getComputedStyle(n).opacity * opacity(n.parentElement) : 1;
  const path = n => n === document.body ? 'body'
    : `${path(n.parentElement)}>${n.tagName.toLowerCase()}:${[...n.parentElement.children].indexOf(n)}`;
  const ring = opacity(e) > 0 ? e : e.nextElementSibling;  // a hidden radio shows its focus on its image
  const s = getComputedStyle(ring), box = ring.getBoundingClientRect();
  const kind = e.matches('.lw-picker input[type=radio]') ? 'radio' : e.matches('.lw-carousel') ? 'carousel'
    : e.matches('.lw-maps .lw-surface') ? 'map' : e.matches('.lw-surface') ? 'surface'
    : e.matches('.lw-prev, .lw-next') ? 'step' : e.matches('.lw-inspector button') ? 'channel'
    : e.tagName.toLowerCase();
  return { kind, path: path(e), outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
           opacity: opacity(ring), area: box.width * box.height,
           layer: e.closest('.lw-figure[data-layer]')?.dataset.layer ?? null,
           name: e.getAttribute('aria-label') || e.textContent.trim().slice(0, 40) };
}"""


def channel_buttons(network_json, layer_id):
    """How many buttons a value's inspector offers, one per input map of a conv layer reading several."""
    layers = network_json["layers"]
    layer = layer_of(network_json, layer_id)
    before = layers[layers.index(layer) - 1] if layers.index(layer) else None
    many = layer["type"] == "Conv2d" and before and len(before["shape"]) == 3 and before["shape"][0] > 1
    return before["shape"][0] if many else 0


def focus_now(page, network_json):
    """The focused element (see FOCUSED), once what focusing it started is done: a focused surface
    selects a value, and its inspector shows it, channel buttons and all."""
    focused = page.evaluate(FOCUSED)
    if focused and focused["kind"] in ("map", "surface"):
        layer_id = focused["layer"]
        expect(inspector(page, layer_id)).to_be_visible()
        expect(header(page, layer_id)).to_contain_text(f"{layer_id}, ")
        buttons = channel_buttons(network_json, layer_id)
        if buttons:
            expect(inspector(page, layer_id).locator("button[data-channel]")).to_have_count(buttons)
            expect(inspector(page, layer_id).locator("button[data-channel]").last).to_be_visible()
    return focused


def press(page, network_json, key):
    page.keyboard.press(key)
    return focus_now(page, network_json)


def tab_to(page, network_json, kind, limit=300):
    """Press Tab until an element of `kind` (see FOCUSED) has the focus; return its description."""
    for _ in range(limit):
        focused = press(page, network_json, "Tab")
        if focused and focused["kind"] == kind:
            return focused
    raise AssertionError(f"Tab never reached a {kind}")


def test_keyboard_walk_reaches_every_control_with_a_visible_focus_ring(opened, network_json):
    """Tab visits the picker, carousels, maps, other surfaces, step and channel buttons, each with an outline."""
    walk = []
    for _ in range(400):
        focused = press(opened, network_json, "Tab")
        if focused is None or (walk and focused["path"] == walk[0]["path"]):
            break
        if focused["kind"] == "step" and walk[-1]["kind"] == "step" and not any(w["kind"] == "back" for w in walk):
            assert press(opened, network_json, "Shift+Tab")["path"] == walk[-1]["path"], \
                "Shift+Tab does not go back one stop"
            walk.append(dict(walk[-1], kind="back"))
            press(opened, network_json, "Tab")
        walk.append(focused)
    kinds = {w["kind"] for w in walk}
    assert {"radio", "carousel", "map", "surface", "step", "channel", "back", "a"} <= kinds, kinds
    invisible = [w for w in walk if w["outline"] == "none" or w["width"] <= 0 or w["opacity"] == 0 or w["area"] == 0]
    assert invisible == [], f"focused without a visible outline: {invisible}"


def test_keyboard_alone_chooses_the_input_steps_maps_and_inspects_values(opened, network_json, input_records,
                                                                         site_url):
    """Arrows on the picker change input, arrows and Space step a carousel, arrows move a map's selection."""
    tab_to(opened, network_json, "radio")
    opened.keyboard.press("ArrowRight")
    expect(opened.locator(".lw-picker input:checked")).to_have_value(input_records[1]["id"])
    expect(current_surface(opened, "conv1").locator("img")).to_have_attribute(
        "src", site_url("map", input=input_records[1]["id"], layer="conv1", k=0))

    tab_to(opened, network_json, "carousel")
    opened.keyboard.press("ArrowRight")
    counter = opened.locator("#fig-conv1 .lw-counter")
    expect(counter).to_have_text(re.compile(r"^2 / "))
    tab_to(opened, network_json, "map")
    expect(header(opened, "conv1")).to_contain_text("map 2, row 1, column 1")
    opened.keyboard.press("ArrowDown")
    expect(header(opened, "conv1")).to_contain_text("map 2, row 2, column 1")
    assert tab_to(opened, network_json, "step")["name"].startswith("Previous")
    opened.keyboard.press("Tab")
    opened.keyboard.press("Space")
    expect(counter).to_have_text(re.compile(r"^3 / "))
    opened.keyboard.press("Shift+Tab")
    opened.keyboard.press("Enter")
    expect(counter).to_have_text(re.compile(r"^2 / "))


def test_focus_moving_backwards_stays_clear_of_the_sticky_picker(opened, network_json):
    """Shift+Tab from the end of the article to the picker never puts the focused control behind the sticky picker."""
    opened.locator(".lw-reproduce a").last.focus()
    hidden = []
    for _ in range(300):
        focused = press(opened, network_json, "Shift+Tab")
        if focused is None or opened.evaluate("() => Boolean(document.activeElement.closest('.lw-picker'))"):
            break  # back in the picker: its own controls cannot be behind it
        top = opened.evaluate("document.activeElement.getBoundingClientRect().top")
        if top < picker_bottom(opened) - 1:
            hidden.append(f"{focused['kind']} {focused['name']!r}")
    assert hidden == [], f"focused while (partly) behind the sticky picker: {hidden}"
