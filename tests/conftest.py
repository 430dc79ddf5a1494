"""Shared fixtures: one site built from the real content/ with the committed checkpoint, served
on a local port, and a real Chromium (Debian's) driven by pytest-playwright.

    .venv/bin/python -m pytest            # from the repository root
"""
import hashlib
import json
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `pytest` as well as `python -m pytest` finds builder/ and model/

CHECKPOINT = REPO / "model" / "cnn.pt"
METRICS = REPO / "model" / "metrics.json"
CONTENT = REPO / "content"
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


def tree_digest(folder):
    """One hash of every file's relative path and bytes under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def normalised(pixels, mean, std, dtype=torch.float64):
    """uint8 images (..., 28, 28) → tensor (N, 1, 28, 28), written here from the article's formula."""
    pixels = pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.array(pixels, dtype=np.uint8))
    x = pixels.to(dtype) / 255.0
    return ((x - mean) / std).reshape(-1, 1, *x.shape[-2:])


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
def network_json(site):
    return json.loads((site / "data" / "network.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def input_records(site):
    """data/<input>.json of every input the page offers, in the picker's order, each with an
    "exact" entry: its layers read from data/<input>.f32 (float32, layer after layer), as the page reads them."""
    summaries = json.loads((site / "data" / "inputs.json").read_text(encoding="utf-8"))
    records = [json.loads((site / "data" / f"{s['id']}.json").read_text(encoding="utf-8")) for s in summaries]
    for record in records:
        flat = np.frombuffer((site / "data" / f"{record['id']}.f32").read_bytes(), dtype="<f4")
        sizes = [int(np.prod(layer["shape"])) for layer in record["layers"].values()]
        assert flat.size == sum(sizes), record["id"]
        pieces = np.split(flat, np.cumsum(sizes)[:-1])
        record["exact"] = {layer: piece.reshape(entry["shape"]).astype(np.float64)
                           for (layer, entry), piece in zip(record["layers"].items(), pieces)}
    return records


@pytest.fixture(scope="session")
def committed_metrics():
    return json.loads(METRICS.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fashion_test_split():
    from model import data
    return data.load("test")


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


# --- the browser ---------------------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def server(site):
    """The built site on http://127.0.0.1:<free port>/."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def watched(page, server):
    """The article open in Chromium, with every console error and every request URL recorded."""
    seen = SimpleNamespace(page=page, errors=[], requests=[], server=server)
    page.on("console", lambda message: seen.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("request", lambda request: seen.requests.append(request.url))
    page.goto(server + "index.html")
    return seen


def foreign_requests(urls, server):
    """The URLs in `urls` that went to any host but the local server (data: URLs fetch nothing)."""
    local = urlsplit(server).netloc
    return [url for url in urls if urlsplit(url).scheme != "data" and urlsplit(url).netloc != local]
