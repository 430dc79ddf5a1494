"""What the page costs the reader: the first load's bytes, the script's size, and no refetching.

    .venv/bin/python -m pytest tests/test_budget.py -s     # -s prints the measured numbers
"""
import json
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conftest import foreign_requests
from reader_helpers import ARTIFACTS, current_surface, open_page, wait_for_images

FIRST_LOAD_BUDGET = 150_000  # bytes of response bodies, as the server sends them (uncompressed)
SCRIPT_BUDGET = 15_000       # bytes of hand-written JavaScript
SCREENS = {
    "mobile": dict(viewport={"width": 412, "height": 823}, device_scale_factor=2.625, is_mobile=True, has_touch=True),
    "desktop": dict(viewport={"width": 1280, "height": 800}),
}


@pytest.mark.parametrize("screen", SCREENS)
def test_first_load_stays_within_150_kb_from_this_server_only(new_context, server, site, screen):
    """Everything fetched before any interaction sums to at most 150 KB, all from the page's own server."""
    page = new_context(**SCREENS[screen]).new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(server + "index.html")
    page.wait_for_load_state("networkidle")

    sizes = {response.url: len(response.body()) for response in responses}
    assert foreign_requests(list(sizes), server) == []
    for url, size in sizes.items():  # what the browser counted is what the server sent from site/
        assert size == (site / urlsplit(url).path.lstrip("/")).stat().st_size, url
    total = sum(sizes.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"first-load-{screen}.json").write_text(json.dumps(
        dict(total=total, requests=len(sizes), files={urlsplit(u).path: s for u, s in sizes.items()}), indent=1))
    print(f"\nfirst load, {screen}: {total:,} bytes in {len(sizes)} requests")
    assert total <= FIRST_LOAD_BUDGET, \
        f"{total:,} bytes; largest: {sorted(sizes.items(), key=lambda item: -item[1])[:5]}"


def test_hand_written_javascript_is_at_most_15000_bytes(site, watched):
    """The page loads only site/static/*.js (no inline script), which together weigh at most 15,000 bytes."""
    sources = watched.page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
    assert sources and all(re.fullmatch(r"static/[\w.-]+\.js", s or "") for s in sources), sources
    sizes = {path.name: path.stat().st_size for path in (site / "static").glob("*.js")}
    print(f"\nJavaScript: {sizes}")
    assert sum(sizes.values()) <= SCRIPT_BUDGET, sizes


class _CountingHandler(SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        self.server.hits.append(self.path)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def counting_server(site):
    """The built site on its own port, recording the path of every request that reaches it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_CountingHandler, directory=str(site)))
    httpd.hits = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_address[1]}/", hits=httpd.hits)
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("layer_id", ["conv1", "conv2"])
def test_stepping_through_shown_maps_again_fetches_nothing(page, counting_server, layer_id):
    """Once every map of a carousel has been shown, a second round through them sends no request to the server."""
    open_page(page, counting_server.url)
    figure = page.locator(f"#fig-{layer_id}")
    figure.scroll_into_view_if_needed()
    count = int(figure.locator(".lw-counter").inner_text().split("/")[1])

    def round_trip():
        for k in range(count):
            expect(figure.locator(".lw-counter")).to_have_text(f"{k + 1} / {count}")
            expect(current_surface(page, layer_id).locator("img")).to_have_attribute(
                "src", re.compile(rf"/{layer_id}-{k}\.png$"))
            wait_for_images(figure.locator(".lw-maps > li.is-current"))
            figure.locator(".lw-next").click()

    round_trip()
    page.wait_for_load_state("networkidle")
    counting_server.hits.clear()
    requests = []  # what the page asked for, from its cache or the server: for the failure message
    page.on("request", lambda request: requests.append(request.url))
    round_trip()
    page.wait_for_load_state("networkidle")
    assert counting_server.hits == [], f"fetched again: {counting_server.hits} (page requests: {requests})"
