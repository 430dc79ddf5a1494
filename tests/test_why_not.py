"""'Why A and not B' (static/attribution.js) in Chromium: the other class B is any class but the one
explained, A, whether chosen in the figure or named by a link (versus=, counted from 1); a link's
versus= that names A or no class, a channel= the input has not or a pixel= outside the image is named
under the picker and let go, and the figure shows its own choice of B. The classes explained and offered are worked out here
from the published logits and labels.

    .venv/bin/python -m pytest tests/test_why_not.py
"""
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from builder import contract as build_contract
from conftest import open_page


def explained(summary):
    """A: the class the network picks, from its logits."""
    return int(np.argmax(summary["logits"]))


def default_other(summary, a):
    """B when no link names one: the true class where the network is wrong, else the next highest logit."""
    if summary["label"] is not None and summary["label"] != a:
        return summary["label"]
    return int(np.argmax([logit if c != a else -np.inf for c, logit in enumerate(summary["logits"])]))


def wrong(summaries):
    return next(s for s in summaries if s["label"] is not None and s["label"] != explained(s))


def open_figure(page, server, fragment):
    open_page(page, server, fragment)
    figure = page.locator("#fig-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-surface canvas").first).to_be_attached()  # the script has taken over
    return figure


def expect_why(figure, summary, a, b):
    """The figure explains A against B: the chooser shows B and the sum's total is A's logit less B's."""
    names = summary["classes"]
    expect(figure.locator("select.lw-attr-other")).to_have_value(str(b))
    expect(figure.locator(".lw-attr-why-sum")).to_contain_text(f"logit of {names[a]} − logit of {names[b]}")


def test_the_other_class_is_any_class_but_the_one_explained(page, server, summaries):
    summary = wrong(summaries)
    figure = open_figure(page, server, f"#input={summary['id']}")
    names, a = summary["classes"], explained(summary)
    options = figure.locator("select.lw-attr-other option")
    expect(options).to_have_text([name for c, name in enumerate(names) if c != a])
    expect_why(figure, summary, a, default_other(summary, a))
    chosen = (a + 3) % len(names)  # explain another class: it is offered no more, and A is
    page.locator("#fig-fc2 tbody tr").nth(chosen).get_by_role("button").click()
    expect(options).to_have_text([name for c, name in enumerate(names) if c != chosen])
    figure.locator("select.lw-attr-other").select_option(str(a))
    expect(page).to_have_url(re.compile(rf"versus={a + 1}\b"))
    expect_why(figure, summary, chosen, a)
    expect(page.locator(".lw-link-said")).to_be_empty()


def unusable(value, why, **fields):
    return build_contract.text("link_unusable", name="versus", value=value, why=build_contract.text(why, **fields))


@pytest.mark.parametrize("versus", ["explained", "0", "11", "3.5", "shirt"])
def test_a_link_naming_the_explained_class_or_none_is_said_and_let_go(page, server, summaries, versus):
    summary = wrong(summaries)
    names, a = summary["classes"], explained(summary)
    b = default_other(summary, a)
    value = str(a + 1) if versus == "explained" else versus
    figure = open_figure(page, server, f"#input={summary['id']}&versus={value}")
    said = (unusable(value, "link_versus_same", other=names[b]) if versus == "explained"
            else unusable(value, "link_versus", count=len(names)))
    expect(page.locator(".lw-link-said")).to_have_text(said)
    expect_why(figure, summary, a, b)
    expect(page).not_to_have_url(re.compile("versus="))  # the link names what the figure shows


def test_a_link_naming_another_class_is_used(page, server, summaries):
    summary = wrong(summaries)
    a = explained(summary)
    b = next(c for c in range(len(summary["classes"])) if c not in (a, default_other(summary, a)))
    figure = open_figure(page, server, f"#input={summary['id']}&versus={b + 1}")
    expect_why(figure, summary, a, b)
    expect(page.locator(".lw-link-said")).to_be_empty()
    expect(page).to_have_url(re.compile(rf"versus={b + 1}\b"))


def test_a_channel_of_a_gray_input_is_said(page, server, network_json):
    assert network_json["layers"][0]["shape"][0] == 1
    open_figure(page, server, "#channel=2")
    expect(page.locator(".lw-link-said")).to_have_text(build_contract.text(
        "link_unusable", name="channel", value="2", why=build_contract.text("link_one_channel")))
    expect(page).not_to_have_url(re.compile("channel="))


@pytest.mark.parametrize("pixel", ["29,1", "0,5", "12", "a,b"])
def test_a_pixel_outside_the_image_is_said(page, server, network_json, pixel):
    _, rows, cols = network_json["layers"][0]["shape"]
    figure = open_figure(page, server, f"#pixel={pixel}")
    expect(page.locator(".lw-link-said")).to_have_text(build_contract.text(
        "link_unusable", name="pixel", value=pixel, why=build_contract.text("link_pixel", rows=rows, cols=cols)))
    expect(page).not_to_have_url(re.compile("pixel="))
    expect(figure.locator(".lw-attr-pixel")).to_be_empty()  # no pixel is selected


def test_a_pixel_inside_the_image_is_selected(page, server, network_json):
    _, rows, cols = network_json["layers"][0]["shape"]
    figure = open_figure(page, server, f"#pixel={rows},{cols}")
    expect(figure.locator(".lw-attr-pixel")).to_contain_text(f"Row {rows}, column {cols}:")
    expect(page.locator(".lw-link-said")).to_be_empty()


@pytest.mark.parametrize("fragment, name, value", [("versus=11", "versus", "11"), ("versus=explained", "versus", None),
                                                   ("pixel=0,5", "pixel", "0,5"), ("channel=2", "channel", "2"),
                                                   ("versus=" + "9" * 40, "versus", "9" * 23 + "…")])
def test_a_bad_value_is_said_when_the_link_is_read_before_the_figure_loads(page, server, summaries, network_json,
                                                                             fragment, name, value):
    """The picker names a bad versus=, pixel= or channel= as soon as the page reads the link, at the top of the
    page, with the attribution figure's script not loaded (it loads when the reader comes near); a long value
    is quoted short, as every link value is."""
    summary = wrong(summaries)
    names, a = summary["classes"], explained(summary)
    if value is None:
        fragment, value = f"versus={a + 1}", str(a + 1)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, server, f"#input={summary['id']}&{fragment}")
    _, rows, cols = network_json["layers"][0]["shape"]
    why = {"versus": ("link_versus_same", dict(other=names[default_other(summary, a)])) if value == str(a + 1)
           else ("link_versus", dict(count=len(names))),
           "pixel": ("link_pixel", dict(rows=rows, cols=cols)), "channel": ("link_one_channel", {})}[name]
    expect(page.locator(".lw-link-said")).to_have_text(build_contract.text(
        "link_unusable", name=name, value=value, why=build_contract.text(why[0], **why[1])))
    expect(page).not_to_have_url(re.compile(f"{name}="))
    assert not [url for url in requests if url.endswith("/attribution.js")], "the figure's script loaded"
