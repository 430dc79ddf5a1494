"""Shared fixtures: one site built from the real content/ with the committed checkpoint, the
URLs of its files read from its own data/contract.json, a local HTTP server, and a real Chromium
(Debian's) driven by pytest-playwright.

    .venv/bin/python -m pytest            # from the repository root
"""
import contextlib
import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import threading
from contextlib import ExitStack, contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from oracle import normalised

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `pytest` as well as `python -m pytest` finds builder/ and model/

CHECKPOINT = REPO / "model" / "cnn.pt"
METRICS = REPO / "model" / "cnn.json"
CONTENT = REPO / "content"
CONTRACT = "data/contract.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_configure(config):
    # pytest-playwright's own base_url fixture trips a pytest deprecation; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:Session-scoped fixtures defined as instance methods")


def run_cli(*args, timeout=600):
    """Run `python -m builder ARGS` from the repository root, as an author would."""
    return subprocess.run([sys.executable, "-m", "builder", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def run_main(*args):
    """(exit status, what it printed on stderr) of the command line's main() on ARGS, in this process:
    for setup and checks that run the command many times, where a new process would spend seconds
    importing torch and torchvision each time. Tests of the command itself use run_cli."""
    from builder.__main__ import main
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        status = main(list(map(str, args)))
    return status, stderr.getvalue()


def copy_checkpoint(folder):
    """The committed checkpoint with the files that travel with it (its metrics and its training
    snapshots), copied into `folder`; returns the copy's path. Other files computed with it (the
    confusion matrix's images, the dataset examples) are left for the caller to copy or not."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".pt", ".json", ".snapshots.npz"):
        shutil.copy(CHECKPOINT.with_name(CHECKPOINT.stem + suffix), folder / f"cnn{suffix}")
    return folder / "cnn.pt"


def tree_digest(folder):
    """One hash of every file's relative path and bytes under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def contract_of(site):
    """A built site's data/contract.json (the one path every page names): URL patterns, number format,
    texts, colour scales and palettes."""
    return json.loads((Path(site) / CONTRACT).read_text(encoding="utf-8"))


def urls_of(site):
    """The URL of any file of a built site, from the patterns in its own contract:
    `urls_of(site)("map", input="test-00019", layer="conv1", k=0)` → 'frames/inputs/test-00019/conv1/0.png'."""
    patterns = contract_of(site)["urls"]

    def url(kind, **fields):
        named = set(re.findall(r"\{(\w+)\}", patterns[kind]))
        assert named == set(fields), f"the {kind!r} URL {patterns[kind]!r} is filled with {named}, not {set(fields)}"
        return re.sub(r"\{(\w+)\}", lambda field: str(fields[field.group(1)]), patterns[kind])
    return url


def accuracy_of(checkpoint, mean, std, split):
    """Test accuracy of a checkpoint loaded into FashionCNN, evaluated here rather than by model.train."""
    from model.cnn import FashionCNN
    model = FashionCNN()
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    model.eval()
    with torch.no_grad():
        x = normalised(split.images, mean, std, torch.float32)
        predicted = torch.cat([model(batch).argmax(1) for batch in x.split(1000)])
    return (predicted == split.labels).double().mean().item()


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Build the real content/ once with the CLI; every site test reads this one build."""
    out = tmp_path_factory.mktemp("built") / "site"
    process = run_cli("build", "--content", CONTENT, "--out", out)
    assert process.returncode == 0, f"the build failed:\n{process.stderr}"
    return SimpleNamespace(site=out, content=CONTENT, process=process)


@pytest.fixture(scope="session")
def site(built):
    return built.site


@pytest.fixture(scope="session")
def site_url(site):
    """urls_of(site) for the real content's build: site_url("kernel", layer="conv1", k=0)."""
    return urls_of(site)


@pytest.fixture(scope="session")
def contract(site):
    return contract_of(site)


@pytest.fixture(scope="session")
def network_json(site, site_url):
    return json.loads((site / site_url("network")).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def summaries(site, site_url):
    """data/inputs.json: each input's label, prediction, probabilities and logits, in picker order."""
    return json.loads((site / site_url("inputs")).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def input_records(site, site_url, summaries):
    """The record (data/inputs/<input>.json) of every input the page offers, in the picker's order, each
    with an "exact" entry: its layers read from the .f32 file (float32, layer after layer), as the page reads them."""
    records = [json.loads((site / site_url("record", input=s["id"])).read_text(encoding="utf-8")) for s in summaries]
    for record in records:
        flat = np.frombuffer((site / site_url("exact", input=record["id"])).read_bytes(), dtype="<f4")
        sizes = [int(np.prod(layer["shape"])) for layer in record["layers"].values()]
        assert flat.size == sum(sizes), record["id"]
        pieces = np.split(flat, np.cumsum(sizes)[:-1])
        record["exact"] = {layer: piece.reshape(entry["shape"]).astype(np.float64)
                           for (layer, entry), piece in zip(record["layers"].items(), pieces)}
    return records


@pytest.fixture(scope="module")
def theme_page(browser):
    """A page of the theme's folder, served as it is, in the session's browser: the base its modules are
    imported from (./static/…), so the modules under test are the files the build copies."""
    page = browser.new_page()
    with serving(REPO / "themes" / "default") as served:
        page.goto(served.url)
        expect(page.locator("body")).to_be_attached()
        yield page
    page.close()


@pytest.fixture(scope="session")
def committed_metrics():
    return json.loads(METRICS.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fashion_test_split():
    from model import data
    return data.load("test")


def train_and_build(name, folder):
    """Train tests/models/styles.py's model `name` for a few steps on the real data into `folder`,
    and build a one-table article about it (its content/, three inputs) into folder/site, with the
    command line's main() in this process (run_main)."""
    checkpoint = folder / "model.pt"
    status, stderr = run_main("train", "--model", f"tests.models.styles:{name}", "--checkpoint", checkpoint,
                              "--epochs", "1", "--max-steps", "15", "--train-subset", "2048")
    assert status == 0, stderr
    content = folder / "content"
    (content / "inputs").mkdir(parents=True)
    for image in sorted((CONTENT / "inputs").glob("*.png"))[:3]:
        shutil.copy(image, content / "inputs" / image.name)
    front = f"---\nmodel: tests.models.styles:{name}\ncheckpoint: {checkpoint}\n---\n\n"
    (content / "article.md").write_text(front + "{{ summary_table }}\n", encoding="utf-8")
    status, stderr = run_main("build", "--content", content, "--out", folder / "site", "--strict")
    assert status == 0, stderr
    return SimpleNamespace(name=name, site=folder / "site", checkpoint=checkpoint, content=content)


@pytest.fixture(scope="session")
def trained_style(tmp_path_factory):
    """train_and_build(name, …) once per session for each style, for every test of own models."""
    return once_each(train_and_build, tmp_path_factory)


def random_weights_project(model, folder, article):
    """A project in `folder` for `model` with the weights it has (random, in tests): net.pt, net.json (the
    committed metrics, less what describes the committed weights) and content/ with the first two article
    inputs and `article`, in which {checkpoint} is net.pt's path. Returns (content/, the metrics, the images)."""
    torch.save(model.state_dict(), folder / "net.pt")
    metrics = json.loads(METRICS.read_text(encoding="utf-8"))
    for key in ("weights_sha256", "snapshots"):
        metrics.pop(key)
    (folder / "net.json").write_text(json.dumps(metrics), encoding="utf-8")
    content = folder / "content"
    (content / "inputs").mkdir(parents=True)
    images = sorted((CONTENT / "inputs").glob("*.png"))[:2]
    for image in images:
        shutil.copy(image, content / "inputs" / image.name)
    (content / "article.md").write_text(article.replace("{checkpoint}", str(folder / "net.pt")), encoding="utf-8")
    return content, metrics, images


def once_each(make, tmp_path_factory):
    """make(name, folder) once for each name, in a new folder: the builds that several tests share."""
    done = {}

    def made(name):
        if name not in done:
            done[name] = make(name, tmp_path_factory.mktemp(name))
        return done[name]
    return made


@pytest.fixture
def make_content(tmp_path, built):
    """Write a small content folder (one input image, the committed checkpoint) and return its article path.

    `front` is the front matter's lines without the '---' fences; the body follows as written.
    """
    def make(body, front=(), folder="content", checkpoint=None):
        content = tmp_path / folder
        (content / "inputs").mkdir(parents=True, exist_ok=True)
        first = sorted((built.content / "inputs").glob("*.png"))[0]
        shutil.copy(first, content / "inputs" / first.name)
        lines = ["---", f"checkpoint: {checkpoint or CHECKPOINT}", *front, "---", ""]
        path = content / "article.md"
        path.write_text("\n".join(lines) + body, encoding="utf-8")
        return path
    return make


# --- serving -------------------------------------------------------------------------------------

COMPRESSED = {".html", ".css", ".js", ".json", ".svg"}  # what GitHub Pages serves gzipped


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder, only under the server's prefix (as GitHub Pages serves a project site),
    recording the path of every request in the server's `hits` when it counts them. Like GitHub
    Pages, it gzips text (HTML, CSS, JavaScript, JSON, SVG) for a browser that accepts it, so
    Lighthouse times what a reader's browser receives; the byte budgets count decoded bodies."""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if not (path.is_file() and path.suffix in COMPRESSED and "gzip" in self.headers.get("Accept-Encoding", "")):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(path.stat().st_mtime))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        return io.BytesIO(body)

    def translate_path(self, path):
        prefix = self.server.prefix
        return super().translate_path("/" + path[len(prefix):] if path.startswith(prefix) else "/not-here")

    def log_request(self, code="-", size="-"):
        if self.server.hits is not None:
            self.server.hits.append(self.path)

    def log_message(self, format, *args):
        pass


@contextmanager
def serving(folder, prefix="/", count=False):
    """Serve `folder` on http://127.0.0.1:<free port><prefix> while the block runs; yields the URL
    (`url`, ending in the prefix) and, with `count`, the list of request paths (`hits`)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
    httpd.prefix, httpd.hits = prefix, [] if count else None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_address[1]}{prefix}", hits=httpd.hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="session")
def server(site):
    """The built site on http://127.0.0.1:<free port>/ (a URL ending in '/')."""
    with serving(site) as served:
        yield served.url


@pytest.fixture
def serve():
    """serving() for one test: `serve(folder, prefix="/some-project/", count=True)`, stopped after it."""
    with ExitStack() as servers:
        yield lambda folder, **options: servers.enter_context(serving(folder, **options))


def foreign_requests(urls, server):
    """The URLs in `urls` that went to any host but the local server (data: URLs fetch nothing)."""
    local = urlsplit(server).netloc
    return [url for url in urls if urlsplit(url).scheme != "data" and urlsplit(url).netloc != local]


# --- the browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def snapshot_state(step):
    """The committed checkpoint's training snapshot at optimiser step `step`, as a state_dict read
    with NumPy from model/cnn.snapshots.npz (independently of the site)."""
    from model import snapshots_file
    kept = snapshots_file.read(snapshots_file.path_for(CHECKPOINT))
    moment = next(each for each in kept.snapshots if each.step == step)
    return {name: torch.from_numpy(np.asarray(array)) for name, array in moment.state.items()}


def author_pixels(inputs):
    """The uint8 pixels of the author's inputs (dicts with an "id"), stacked: (n, H, W)."""
    from PIL import Image
    return torch.stack([torch.from_numpy(np.array(Image.open(CONTENT / "inputs" / f"{each['id']}.png").convert("L")))
                        for each in inputs])


def open_page(page, server, fragment=""):
    """Open the article and wait until its script has run (conv1's carousel counter shows)."""
    page.goto(server + "index.html" + fragment)
    expect(page.locator("#fig-conv1 .lw-counter")).to_be_visible()


@pytest.fixture(scope="session")
def first(input_records):
    """The input the page shows before the reader chooses one: the first of the picker."""
    return input_records[0]


@pytest.fixture
def opened(page, server, first):
    """The article open in Chromium with its script running and the first input shown; every console
    error is collected in `opened.errors` and every request URL in `opened.requests`."""
    page.errors, page.requests = [], []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: page.requests.append(request.url))
    open_page(page, server)
    expect(page.locator(".lw-picker input:checked")).to_have_value(first["id"])
    return page
