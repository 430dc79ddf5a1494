"""Under a convolution's carousel each kernel is labelled with its own map's number ("filter k"):
written into the HTML, so it is right without JavaScript, and right after stepping with the
arrows, where a CSS counter that hidden maps do not advance said "filter 1" under every kernel.
The oracle is the carousel itself: the k-th map of the figure (its counter says "k / n").

    .venv/bin/python -m pytest tests/test_filter_labels.py
"""
from playwright.sync_api import expect

from reader_helpers import ARTIFACTS


def conv_figures(network_json):
    """The ids of the figures whose maps have kernels under them: every convolution's."""
    return [f"fig-{layer['id']}" for layer in network_json["layers"] if layer["type"] == "Conv2d"]


def test_every_kernel_names_its_own_map_without_javascript(new_context, server, network_json):
    """With scripting off every map is shown, and each kernel's visible label names its own map."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(server + "index.html")
    for figure_id in conv_figures(network_json):
        items = page.locator(f"#{figure_id} .lw-maps > li")
        count = items.count()
        assert count > 1, figure_id
        for k in range(count):
            label = items.nth(k).locator(".lw-kernel")
            expect(label).to_be_visible()
            assert label.inner_text().strip() == f"filter {k + 1}", f"{figure_id}, map {k + 1}"


def test_every_kernel_names_its_own_map_as_the_carousel_steps(opened, network_json):
    """Stepping with the arrow keys and the Next and Previous buttons, the kernel under the map
    shown is labelled with the number the counter gives that map."""
    for figure_id in conv_figures(network_json):
        figure = opened.locator(f"#{figure_id}")
        count = figure.locator(".lw-maps > li").count()
        carousel = figure.locator(".lw-carousel")
        carousel.scroll_into_view_if_needed()
        steps = [("ArrowRight", 1)] * 3 + [("next", 1)] * 2 + [("ArrowLeft", -1), ("previous", -1)] \
            + [("ArrowLeft", -1)] * 2  # the last ones wrap from the first map to the last
        k = 0
        for how, delta in steps:
            if how.startswith("Arrow"):
                carousel.focus()
                opened.keyboard.press(how)
            else:
                figure.locator(f".lw-{how[:4]}").click()
            k = (k + delta) % count
            expect(figure.locator(".lw-counter")).to_have_text(f"{k + 1} / {count}")
            label = figure.locator(".lw-maps > li.is-current .lw-kernel")
            expect(label).to_be_visible()
            expect(label).to_have_text(f"filter {k + 1}")
        figure.screenshot(path=ARTIFACTS / f"filter-label-{figure_id}.png")
    assert opened.errors == []
