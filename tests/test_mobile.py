"""The page on a phone, in a real Chromium: nothing scrolls sideways at 375 pixels, with every figure
loaded and inspectors open, and a horizontal swipe steps a carousel.

    .venv/bin/python -m pytest tests/test_mobile.py
"""
import re

from playwright.sync_api import expect

from conftest import open_page
from reader_helpers import current_surface, inspector, select, wait_for_images


def test_no_horizontal_scrolling_on_a_375_pixel_screen(new_context, server, network_json):
    """At 375 px wide the page never scrolls sideways: on load, with every figure loaded, with inspectors open."""
    page = new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True).new_page()
    open_page(page, server)

    def overflow():
        # A phone zooms out to show content wider than the screen, which widens innerWidth;
        # the layout viewport (clientWidth) stays 375, so compare with both.
        sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth, "
                              "innerWidth]")
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .filter(e => { for (let p = e.parentElement; p; p = p.parentElement)
                             if (getComputedStyle(p).overflowX !== 'visible') return false;
                           return true; })
            .filter(e => !e.parentElement.closest('table'))
            .map(e => `${e.tagName.toLowerCase()}.${e.className} (${e.getBoundingClientRect().right} px)`)""")
        return sizes, wide

    sizes, wide = overflow()
    assert sizes[0] <= sizes[1] and sizes[2] <= 375, f"scrollWidth, clientWidth, innerWidth = {sizes}; too wide: {wide}"
    for figure in page.locator(".lw-figure").all():
        figure.scroll_into_view_if_needed()
        wait_for_images(figure)
    select(page, network_json, "conv2", 0, 5, 5)
    inspector(page, "conv2").locator('button[data-channel="3"]').click()
    expect(inspector(page, "conv2").locator(".lw-detail table")).to_have_count(3)
    select(page, network_json, "conv1", 0, 0, 0)
    expect(inspector(page, "conv1").locator("table")).to_have_count(3)
    sizes, wide = overflow()
    assert sizes[0] <= sizes[1] and sizes[2] <= 375, f"scrollWidth, clientWidth, innerWidth = {sizes}; too wide: {wide}"


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
