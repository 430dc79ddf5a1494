"""Live preview: build, serve the site under a sub-path, rebuild on every change and reload the page.

    python -m builder serve [--port 8000] [--host 127.0.0.1]

The site is served at http://HOST:PORT/<project>/, as GitHub Pages serves a
project site, so a root-absolute URL breaks here before it breaks there.
The content, the theme, the model's code (every folder its imports come
from) and its checkpoint are watched; after each successful rebuild the
open pages reload themselves through a small script that only this server adds. A failed rebuild prints its error and the last good site stays up.
"""
import importlib
import sys
import threading
import time
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from watchfiles import DefaultFilter, watch

from builder import cache, content, imports, theme
from builder.build import build
from builder.errors import BuildError

EVENTS = "/__layerwise/events"
RELOAD_JS = "/__layerwise/reload.js"
RELOADER = b"""// Added by 'python -m builder serve' only: reload when a rebuild finishes.
new EventSource('/__layerwise/events').addEventListener('reload', () => location.reload());
"""


class Generations:
    """Counts successful builds; each waiting page is woken when the count moves."""

    def __init__(self):
        self.number, self.changed = 0, threading.Condition()

    def advance(self):
        with self.changed:
            self.number += 1
            self.changed.notify_all()

    def wait_past(self, number, timeout):
        with self.changed:
            self.changed.wait_for(lambda: self.number != number, timeout)
            return self.number


class Handler(SimpleHTTPRequestHandler):
    """Serves site/ under /<prefix>/, the reload script and its event stream."""

    def __init__(self, *args, prefix, generations, **kwargs):
        self.prefix, self.generations = prefix, generations
        super().__init__(*args, **kwargs)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == EVENTS:
            return self._events()
        if path == RELOAD_JS:
            return self._send(RELOADER, "text/javascript")
        if path in ("/", self.prefix.rstrip("/")):
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", self.prefix)
            self.end_headers()
            return None
        if not path.startswith(self.prefix):
            return self.send_error(HTTPStatus.NOT_FOUND, f"the site is served under {self.prefix}")
        if path.endswith("/") or path.endswith(".html"):
            return self._html(path)
        return super().do_GET()

    def translate_path(self, path):
        return super().translate_path("/" + path[len(self.prefix):] if path.startswith(self.prefix) else "/-")

    def _html(self, path):
        file = Path(self.translate_path(path))  # the parent's cleaning: no way out of the site
        file = file / "index.html" if path.endswith("/") else file
        try:
            html = file.read_bytes()
        except OSError:
            return self.send_error(HTTPStatus.NOT_FOUND)
        script = f'<script src="{RELOAD_JS}" defer></script>\n</head>'.encode()
        return self._send(html.replace(b"</head>", script, 1), "text/html; charset=utf-8")

    def _send(self, body, content_type):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _events(self):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = self.generations.number
        try:
            while True:
                now = self.generations.wait_past(seen, timeout=15)
                message = b"event: reload\ndata: now\n\n" if now != seen else b": still here\n\n"
                self.wfile.write(message)
                self.wfile.flush()
                seen = now
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format, *args):
        pass  # the build's own messages are the useful ones


def serve(content_dir="content", out="site", *, host="127.0.0.1", port=8000, prefix=None, strict=False,
          train=False, data_dir=None, ready=None, stop=None):
    """Build, then serve and rebuild until interrupted (or until `stop`, a threading.Event, is set)."""
    prefix = f"/{(prefix or Path.cwd().name).strip('/')}/"
    generations = Generations()
    sources = _rebuild(content_dir, out, strict, data_dir, first=True, train=train) or []
    handler = partial(Handler, directory=str(Path(out).resolve()), prefix=prefix, generations=generations)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://{host}:{server.server_port}{prefix}"
    watched = _watched(content_dir, sources)
    print(f"serving {url} (Ctrl-C to stop); watching {', '.join(watched)}", flush=True)
    if ready:
        ready(url)
    try:
        _watch(watched, content_dir, out, strict, data_dir, generations, stop)
    finally:
        server.shutdown()
        server.server_close()


def _watch(watched, content_dir, out, strict, data_dir, generations, stop):
    """Rebuild after each batch of edits; watch anew when the model's code comes to import from
    another folder."""
    usual = DefaultFilter()  # skips __pycache__, .git, editor swap files
    # The build's own writes (the site, its temporary folders, the cache) are not the author's edits.
    own = [Path(out).resolve().parent / f".{Path(out).name}", Path(out).resolve(), cache.root().resolve()]

    def edited(change, path):
        return usual(change, path) and not any(str(path).startswith(str(mine)) for mine in own)

    restarted = False
    while not (stop and stop.is_set()):
        if restarted:  # an edit saved between two watches was seen by neither: build once more
            _reload_code(set())
            if _rebuild(content_dir, out, strict, data_dir) is not None:
                generations.advance()
            restarted = False
        for changes in watch(*watched, stop_event=stop, debounce=400, step=30, watch_filter=edited):
            names = sorted({Path(path).name for _, path in changes})
            print(f"changed: {', '.join(names)}", flush=True)
            _reload_code({Path(path).resolve() for _, path in changes})
            sources = _rebuild(content_dir, out, strict, data_dir)
            if sources is None:
                continue
            generations.advance()
            now = _watched(content_dir, sources)
            if set(now) - set(watched):
                watched, restarted = now, True
                print(f"watching {', '.join(watched)}", flush=True)
                break


def _reload_code(paths):
    """Make the rebuild use the code as it is now: the author's modules are forgotten, so the build
    imports them afresh (builder.imports), and an edited module the builder holds is reloaded."""
    imports.forget()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() in paths:
            try:
                importlib.reload(module)
            except Exception as err:  # the author's code is half-written: the build will say so
                print(f"error: cannot reload {module.__name__}: {err}", flush=True)


def _rebuild(content_dir, out, strict, data_dir, first=False, train=False):
    """Build once; return the model's source files (builder.build.Result.sources), or None on failure."""
    started = time.perf_counter()
    try:
        result = build(content_dir, out, strict=strict, train=train, data_dir=data_dir)
    except BuildError as err:
        if first and not Path(out, "index.html").exists():
            raise
        print(f"error: {err}\n(still serving the last good site)", flush=True)
        return None
    print(f"rebuilt in {time.perf_counter() - started:.2f} s"
          + (f", {len(result.warnings)} warning(s)" if result.warnings else ""), flush=True)
    return result.sources


def _watched(content_dir, sources=()):
    """The folders a build reads: the content, the theme, the model's code (every folder its
    imports come from) and its checkpoint."""
    folders = [Path(content_dir), *(Path(source).parent for source in sources)]
    try:
        settings = content.load(content_dir).settings
        folders.append(theme.folder_of(settings.theme))
        folders.append(content.model_folder(settings.model) or Path("model"))
        folders.append(Path(settings.checkpoint).parent)
    except BuildError:
        folders += [Path("themes"), Path("model")]  # the article is broken now: watch the usual places
    unique = dict.fromkeys(folder.resolve() for folder in folders if folder.is_dir())
    return [str(folder) for folder in unique]
