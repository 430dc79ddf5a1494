"""What the page costs the reader: the first load's bytes, code fetched only when a feature is first
used, and no refetching.

These tests are about the network traffic itself, so they wait for the network to be idle
(Playwright's "networkidle": no request for 500 ms) after waiting for the states they need.

    .venv/bin/python -m pytest tests/test_budget.py -s     # -s prints the measured numbers
"""
import json
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conftest import COMPRESSED, foreign_requests, open_page
from reader_helpers import ARTIFACTS, click_cell, current_surface, header, layer_of, wait_for_images

FIRST_LOAD_DECODED = 200_000  # bytes of response bodies, as the files are on disk
FIRST_LOAD_TRANSFERRED = 60_000  # bytes Chromium received, gzipped as GitHub Pages sends text, headers included
ON_FIRST_USE = re.compile(r"/(inspector|maths|operations|arithmetic)\.js$")  # the inspector's modules: loaded when a value is selected
SCREENS = {
    "mobile": dict(viewport={"width": 412, "height": 823}, device_scale_factor=2.625, is_mobile=True, has_touch=True),
    "desktop": dict(viewport={"width": 1280, "height": 800}),
}


@pytest.mark.parametrize("screen", SCREENS)
def test_first_load_stays_within_60_kb_gzipped_and_200_kb_decoded_from_this_server_only(new_context, server, site,
                                                                                         screen):
    """Everything fetched before any interaction, all from the page's own server, is at most 60 KB as Chromium
    counts what it received (its network log's encodedDataLength, the text gzipped as GitHub Pages serves it)
    and at most 200 KB decoded."""
    page = new_context(**SCREENS[screen]).new_page()
    network = page.context.new_cdp_session(page)
    responses, received = {}, {}
    network.on("Network.responseReceived", lambda event: responses.setdefault(event["requestId"], event["response"]))
    network.on("Network.loadingFinished", lambda event: received.setdefault(event["requestId"], event["encodedDataLength"]))
    network.send("Network.enable")
    network.send("Network.setCacheDisabled", {"cacheDisabled": True})
    open_page(page, server)
    page.wait_for_load_state("networkidle")

    urls = {request: response["url"] for request, response in responses.items()}
    assert foreign_requests(list(urls.values()), server) == []
    assert set(received) == set(urls), "a response that never finished loading"
    decoded = {url: (site / urlsplit(url).path.lstrip("/")).stat().st_size for url in urls.values()}
    plain = [response["url"] for response in responses.values()
             if urlsplit(response["url"]).path.endswith(tuple(COMPRESSED)) and response["headers"].get("Content-Encoding") != "gzip"]
    assert plain == [], "text sent without gzip, which GitHub Pages would compress"
    transferred = {urls[request]: size for request, size in received.items()}
    headers = sum(response["encodedDataLength"] for response in responses.values())  # received before the body
    total, sent = sum(decoded.values()), sum(transferred.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"first-load-{screen}.json").write_text(json.dumps(dict(
        decoded=total, transferred=sent, of_which_headers=headers, requests=len(urls),
        files={urlsplit(url).path: [decoded[url], transferred[url]] for url in urls.values()}), indent=1))
    print(f"\nfirst load, {screen}: {total:,} bytes decoded, {sent:,} transferred ({headers:,} of them headers), "
          f"in {len(urls)} requests")
    largest = sorted(transferred.items(), key=lambda item: -item[1])[:5]
    assert sent <= FIRST_LOAD_TRANSFERRED, f"{sent:,} bytes transferred; largest: {largest}"
    assert total <= FIRST_LOAD_DECODED, f"{total:,} bytes; largest: {sorted(decoded.items(), key=lambda item: -item[1])[:5]}"


def test_the_inspectors_code_loads_when_a_value_is_first_selected(page, server, network_json):
    """The page's scripts are its own static/*.js; the first load fetches none of the inspector's modules
    (inspector.js, maths.js, operations.js, arithmetic.js), and selecting a value fetches inspector.js and
    shows its arithmetic."""
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, server)
    page.wait_for_load_state("networkidle")
    sources = page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
    assert sources and all(re.fullmatch(r"static/[\w.-]+\.js", s or "") for s in sources), sources
    assert [url for url in requests if ON_FIRST_USE.search(url)] == [], "fetched before any value was selected"

    _, rows, cols = layer_of(network_json, "conv1")["shape"]
    with page.expect_request(lambda request: request.url.endswith("/inspector.js")):
        click_cell(page, "conv1", rows // 2, cols // 2, rows, cols)
    expect(header(page, "conv1")).to_contain_text(f"row {rows // 2 + 1}, column {cols // 2 + 1}:")


@pytest.mark.parametrize("layer_id", ["conv1", "conv2"])
def test_stepping_through_shown_maps_again_fetches_nothing(page, serve, site, first, site_url, layer_id):
    """Once every map of a carousel has been shown, a second round through them sends no request to the server."""
    counting = serve(site, count=True)
    open_page(page, counting.url)
    figure = page.locator(f"#fig-{layer_id}")
    figure.scroll_into_view_if_needed()
    count = int(figure.locator(".lw-counter").inner_text().split("/")[1])

    def round_trip():
        for k in range(count):
            expect(figure.locator(".lw-counter")).to_have_text(f"{k + 1} / {count}")
            expect(current_surface(page, layer_id).locator("img")).to_have_attribute(
                "src", site_url("map", input=first["id"], layer=layer_id, k=k))
            wait_for_images(figure.locator(".lw-maps > li.is-current"))
            figure.locator(".lw-next").click()

    round_trip()
    page.wait_for_load_state("networkidle")
    counting.hits.clear()
    requests = []  # what the page asked for, from its cache or the server: for the failure message
    page.on("request", lambda request: requests.append(request.url))
    round_trip()
    page.wait_for_load_state("networkidle")
    assert counting.hits == [], f"fetched again: {counting.hits} (page requests: {requests})"
