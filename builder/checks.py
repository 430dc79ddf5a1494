"""Check a built site's links: every local URL names a file in it, every #fragment an id.

A root-absolute URL ('/static/x.css') is reported too: it breaks when
GitHub Pages serves the site under /<project>/.
"""
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

class Broken(str):
    """The sentence about one broken link, knowing the link's URL, so that the build can name the
    line of the article where it is written (builder.errors.Problems)."""

    def __new__(cls, sentence, url):
        broken = super().__new__(cls, sentence)
        broken.url = url
        return broken


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
URL_ATTRIBUTES = {"href", "src", "poster", "data"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.urls = set(), []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            elif name in URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, value))
            elif name == "srcset" and value:
                self.urls += [(tag, part.split()[0]) for part in value.split(",") if part.strip()]


def links(site):
    """Return a sentence for each broken link in the site's HTML and CSS files."""
    site = Path(site).resolve()
    pages = {path: _parse(path) for path in sorted(site.rglob("*.html"))}
    problems = []
    for path, parsed in pages.items():
        for tag, url in parsed.urls:
            problems += _check(site, path, url, pages, external_ok=(tag == "a"))
    for path in sorted(site.rglob("*.css")):
        for url in CSS_URL.findall(path.read_text(encoding="utf-8")):
            problems += _check(site, path, url, pages, external_ok=False)
    return problems


def _parse(path):
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def _check(site, page, url, pages, external_ok):
    where = page.relative_to(site)
    parts = urlsplit(url)
    if parts.scheme in ("data", "mailto", "javascript") or (parts.scheme and external_ok):
        return []
    if parts.scheme or parts.netloc:
        return [Broken(f"{where}: '{url}' is fetched from another host; keep every file in the site", url)]
    if parts.path.startswith("/"):
        return [Broken(f"{where}: '{url}' is root-absolute and breaks under a sub-path; make it page-relative", url)]
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
    if target.is_dir():
        target = target / "index.html"
    if site.resolve() not in target.parents or not target.is_file():
        return [Broken(f"{where}: '{url}' points to no file in the site", url)]
    if parts.fragment and target.suffix == ".html":
        ids = pages[target].ids if target in pages else _parse(target).ids
        if parts.fragment not in ids:
            return [Broken(f"{where}: '{url}' points to no element with id '{parts.fragment}'", url)]
    return []
