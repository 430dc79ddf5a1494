"""Link values the page cannot use, in a real Chromium: each is named under the picker in the contract's
words, nothing is fetched that does not exist, nothing fails in the console, and the figures show what
they would show without it (the trained network, the first map, the first input). And the steps of
training print alike in the status line and beside the slider.

    .venv/bin/python -m pytest tests/test_link_values.py
"""
import re

import pytest
from playwright.sync_api import expect

from conftest import CHECKPOINT, open_page
from model import snapshots_file
from reader_helpers import current_surface, layer_of


def whole(number):
    """A whole number as Python prints it with thousands apart, the page's rule for steps and counts."""
    return f"{number:,}"


@pytest.fixture(scope="module")
def steps():
    """The optimiser steps training kept, read with NumPy from the committed snapshots file."""
    return [moment.step for moment in snapshots_file.read(snapshots_file.path_for(CHECKPOINT)).snapshots]


def said(contract, name, value, why, **fields):
    """What the picker says of a link's `name`=`value` the page cannot use, from the contract's texts."""
    texts = contract["texts"]
    return texts["link_unusable"].format(name=name, value=value,
                                         why=texts[why].format(name=name, value=value, **fields))


def watched(page):
    """Collect the page's console errors and every response that failed (status 400 or more)."""
    page.errors, page.failed = [], []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("response", lambda response: page.failed.append(response.url) if response.status >= 400 else None)
    return page


def bad_values(network_json, steps):
    """(fragment, [(name, value, why, fields)]) for a bad value of every parameter a link may give, named in
    the link's order."""
    maps = layer_of(network_json, "conv1")["shape"][0]
    moment = dict(count=whole(len(steps)), first=whole(steps[0]), last=whole(steps[-1]))
    not_kept = next(step for step in range(1, steps[-1]) if step not in steps)
    return [
        (f"#at={not_kept}", [("at", str(not_kept), "link_moment", moment)]),
        ("#at=later", [("at", "later", "link_moment", moment)]),
        (f"#conv1={maps + 1}", [("conv1", str(maps + 1), "link_map", dict(count=whole(maps)))]),
        ("#conv1=999&pool1=0", [("conv1", "999", "link_map", dict(count=whole(maps))),
                                ("pool1", "0", "link_map", dict(count=whole(maps)))]),
        ("#conv1=abc", [("conv1", "abc", "link_map", dict(count=whole(maps)))]),
        ("#colour=blue", [("colour", "blue", "link_name", {})]),
        ("#input=nobody", [("input", "nobody", "link_input", {})]),
        ("#compare=nobody", [("compare", "nobody", "link_input", {})]),
        ("#input=draw.not-a-drawing", [("input", "draw.not-a-drawing", "link_drawing", {})]),
        ("#tour=0", [("tour", "0", "link_count", {})]),
        ("#input=test.10000&at=7&conv2=0", [("input", "test.10000", "link_test", dict(last=whole(9999))),
                                            ("at", "7", "link_moment", moment),
                                            ("conv2", "0", "link_map", dict(count=whole(
                                                layer_of(network_json, "conv2")["shape"][0])))]),
    ]


def test_every_bad_value_is_named_and_the_page_shows_the_trained_network(page, server, contract, network_json, steps,
                                                                         first, site_url):
    """Each fragment's bad values are named under the picker, one sentence each; the figures show the first
    input's trained maps, each carousel on its first map, no second input, and the status line says no step."""
    watched(page)
    for fragment, named in bad_values(network_json, steps):
        open_page(page, server, fragment)
        expected = " ".join(said(contract, *entry[:3], **entry[3]) for entry in named)
        expect(page.locator(".lw-link-said"), fragment).to_have_text(expected)
        expect(page.locator(".lw-picker input:checked")).to_have_value(first["id"])
        for layer in ("conv1", "pool1", "conv2"):
            count = layer_of(network_json, layer)["shape"][0]
            expect(page.locator(f"#fig-{layer} .lw-counter")).to_have_text(f"1 / {count}")
        surface = current_surface(page, "conv1").locator("img")
        expect(surface).to_have_attribute("src", site_url("map", input=first["id"], layer="conv1", k=0))
        expect(surface).to_be_visible()
        expect(page.locator(".lw-training-slider")).to_have_count(0)
        expect(page.locator(".lw-status")).not_to_contain_text("step")
        expect(page.locator(".lw-pair-logit")).to_have_count(0)  # no second input's column in the output table
        assert page.failed == [], f"{fragment}: {page.failed}"
        assert page.errors == [], f"{fragment}: {page.errors}"
        page.goto("about:blank")  # the next fragment opens a new page, not a hash change


def test_good_values_are_not_named_and_a_new_link_clears_what_was(page, server, contract, network_json, steps):
    """A link whose every value is usable says nothing; after a bad link, a good one clears the words, and
    the reader can dismiss them from the keyboard."""
    watched(page)
    step = steps[len(steps) // 2]
    open_page(page, server, f"#input=3&conv1=5&at={step}&compare=2")
    expect(page.locator(".lw-status")).to_contain_text(f"training step {whole(step)}")
    expect(page.locator(".lw-link-said")).to_be_hidden()
    expect(page.locator(".lw-link-said")).to_have_text("")

    page.evaluate("location.hash = '#conv1=999'")
    expect(page.locator(".lw-link-said")).to_have_text(said(contract, "conv1", "999", "link_map", count=whole(
        layer_of(network_json, "conv1")["shape"][0])))
    page.evaluate("location.hash = '#conv1=3'")
    expect(page.locator(".lw-link-said")).to_have_text("")
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^3 / "))

    page.evaluate("location.hash = '#colour=blue'")  # pinned with the picker, the words can be dismissed
    close = page.locator(".lw-link-said button")
    expect(close).to_have_accessible_name(contract["texts"]["link_dismiss"])
    close.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".lw-link-said")).to_be_hidden()
    expect(page.locator(".lw-picker input[name=input]:checked")).to_be_focused()
    assert page.failed == [] and page.errors == []


def test_the_status_line_prints_the_step_as_the_slider_does(page, server, steps):
    """At a moment past a thousand steps, the status line and the slider's words print its step alike,
    with the contract's thousands separator."""
    step = next(step for step in steps if step >= 1000)
    open_page(page, server, f"#at={step}")
    status, slider = page.locator(".lw-status"), page.locator(".lw-training-said")
    expect(status).to_contain_text("training step")
    expect(slider).to_be_visible()
    in_status = re.search(r"training step ([\d,]+)", status.inner_text()).group(1)
    in_slider = re.search(r"Step ([\d,]+) of", slider.inner_text()).group(1)
    assert in_status == in_slider == whole(step), (in_status, in_slider)
