"""The live preview, started as an author starts it: `python -m builder serve`."""
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from conftest import REPO


class Output:
    """The server's output, read in the background so the test can wait for a line."""

    def __init__(self, stream):
        self.lines, self.changed = [], threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, pattern, after=0, timeout=60):
        """The first line (from index `after`) matching `pattern`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines[after:]:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                assert left > 0, f"no line matching {pattern!r} in {self.lines}"
                self.changed.wait(left)


@pytest.fixture
def preview(make_content, tmp_path):
    """A live preview of a small article on a free port, under /some-project/."""
    article = make_content("The first version of the text.\n\n![The maps](layer:conv1)\n")
    out = tmp_path / "site"
    process = subprocess.Popen(
        [sys.executable, "-m", "builder", "serve", "--port", "0", "--prefix", "some-project",
         "--content", str(article.parent), "--out", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(process.stdout)
    url = output.wait_for(r"serving http://").split()[1]
    yield SimpleNamespace(url=url, article=article, out=out, output=output)
    process.terminate()
    process.wait(timeout=10)


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace"), response.url


def test_the_site_is_served_under_a_sub_path_with_the_reload_script_added(preview):
    """/some-project/ serves the site; / redirects there; files outside the prefix are not found."""
    assert preview.url.endswith("/some-project/")
    root = preview.url.rsplit("/some-project/", 1)[0]
    status, html, final = fetch(root + "/")
    assert status == 200 and final == preview.url and "The first version" in html
    assert fetch(preview.url + "static/style.css")[0] == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        fetch(root + "/static/style.css")
    assert missing.value.code == 404
    assert "__layerwise/reload.js" in html
    assert "__layerwise" not in (preview.out / "index.html").read_text(), "site/ stays as a real build writes it"


def test_an_edit_reloads_the_open_page(preview, page):
    """Saving the article rebuilds the site and the open page shows the new text by itself."""
    page.goto(preview.url)
    expect(page.get_by_text("The first version of the text.")).to_be_visible()
    preview.article.write_text(preview.article.read_text().replace("first version", "second version"))
    expect(page.get_by_text("The second version of the text.")).to_be_visible(timeout=15_000)


def test_a_failed_rebuild_keeps_serving_the_last_good_site(preview, page):
    """An unknown layer prints the error; the last good page stays up and a fix brings the new one."""
    page.goto(preview.url)
    seen = len(preview.output.lines)
    good = preview.article.read_text()
    preview.article.write_text(good.replace("layer:conv1", "layer:conv9"))
    error = preview.output.wait_for(r"^error: ", after=seen)
    assert re.search(r"article\.md:\d+: unknown layer 'conv9'", error)
    status, html, _ = fetch(preview.url)
    assert status == 200 and 'id="fig-conv1"' in html

    preview.article.write_text(good.replace("first version", "mended version"))
    expect(page.get_by_text("The mended version of the text.")).to_be_visible(timeout=15_000)
