"""Deep links, in a real Chromium: the URL fragment restores the input and the maps shown, stepping
writes it, and a followed link lands clear of the sticky picker.

    .venv/bin/python -m pytest tests/test_deep_links.py
"""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import current_surface, layer_of, picker_bottom


def test_deep_link_restores_the_input_and_the_map(page, server, input_records, network_json, site_url):
    """index.html#input=<id>&conv1=5 checks that input, shows its frames and conv1's map 5."""
    record, maps_count = input_records[3], layer_of(network_json, "conv1")["shape"][0]
    open_page(page, server, f"#input={record['id']}&conv1=5")
    expect(page.locator(".lw-picker input:checked")).to_have_value(record["id"])
    expect(page.locator("#fig-conv1 .lw-counter")).to_have_text(f"5 / {maps_count}")
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute(
        "src", site_url("map", input=record["id"], layer="conv1", k=4))
    expect(page.locator("#fig-input .lw-surface img")).to_have_attribute(
        "src", site_url("map", input=record["id"], layer="input", k=0))


def test_deep_link_by_position_selects_that_input(page, server, input_records, site_url):
    """#input=3 selects the third input of the picker."""
    open_page(page, server, "#input=3")
    expect(page.locator(".lw-picker input:checked")).to_have_value(input_records[2]["id"])
    expect(page.locator(".lw-picker input[name=input]").nth(2)).to_be_checked()
    expect(current_surface(page, "conv1").locator("img")).to_have_attribute(
        "src", site_url("map", input=input_records[2]["id"], layer="conv1", k=0))


def test_stepping_a_carousel_writes_the_fragment_and_a_reload_restores_it(opened, first):
    """Next on conv1 and pool1 puts input, conv1 and pool1 in the URL; reloading that URL shows the same maps."""
    opened.locator("#fig-conv1 .lw-next").click()
    opened.locator("#fig-conv1 .lw-next").click()
    opened.locator("#fig-pool1 .lw-next").click()
    expect(opened).to_have_url(re.compile(r"#.*pool1=2"))
    state = parse_qs(urlsplit(opened.url).fragment)
    assert state == {"input": [first["id"]], "conv1": ["3"], "pool1": ["2"]}
    opened.reload()
    expect(opened.locator("#fig-conv1 .lw-counter")).to_have_text(re.compile(r"^3 / "))
    expect(opened.locator("#fig-pool1 .lw-counter")).to_have_text(re.compile(r"^2 / "))


@pytest.mark.parametrize("link", ['article a[href="#fig-conv1"]', '.lw-toc a[href="#pool1"]'])
def test_a_followed_link_lands_below_the_sticky_picker(opened, link):
    """Following a link to a figure or a section scrolls its target clear of the sticky input picker."""
    href = opened.locator(link).first.get_attribute("href")
    opened.locator(link).first.click()
    expect(opened).to_have_url(re.compile(re.escape(href) + "$"))
    assert opened.locator(href).bounding_box()["y"] >= picker_bottom(opened) - 1, "the target is under the sticky picker"


def test_the_attributions_other_class_and_pixel_are_in_the_fragment(page, server, summaries):
    """#versus=<class, from 1>&pixel=<row>,<column> opens the attribution figure comparing with that
    class and saying that pixel; choosing another class and moving the pixel write them back."""
    summary = summaries[1]
    names, c = summary["classes"], summary["predicted"]
    other, third = (c + 2) % len(names), (c + 5) % len(names)
    open_page(page, server, f"#input={summary['id']}&versus={other + 1}&pixel=3,5")
    figure = page.locator("#fig-attribution")
    figure.scroll_into_view_if_needed()
    chooser = figure.locator("select.lw-attr-other")
    expect(chooser).to_have_value(str(other))
    expect(figure.locator(".lw-attr-why-sum")).to_contain_text(f"− logit of {names[other]} (")
    expect(figure.locator(".lw-attr-pixel")).to_contain_text("Row 3, column 5:")
    chooser.select_option(str(third))
    expect(figure.locator(".lw-attr-why-sum")).to_contain_text(f"− logit of {names[third]} (")
    figure.locator(".lw-attr-surface canvas").first.focus()
    figure.locator(".lw-attr-surface canvas").first.press("ArrowDown")
    expect(figure.locator(".lw-attr-pixel")).to_contain_text("Row 4, column 5:")
    expect(page).to_have_url(re.compile(r"pixel=4%2C5"))
    assert parse_qs(urlsplit(page.url).fragment) == {"input": [summary["id"]], "versus": [str(third + 1)],
                                                      "pixel": ["4,5"]}
