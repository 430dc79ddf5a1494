"""Measure the figures the README quotes and print them as a Markdown table.

    python -m builder bench            # builds, serves and measures the site (about half a minute)
    python -m builder bench --train    # also retrains from scratch (about 2 minutes more)

Everything runs on a copy of content/ in a temporary folder, with its own
build cache, so the author's files and cache are left alone. The browser
figures (first-load bytes, edit-to-page time) need Playwright and Debian's
Chromium, as the tests do; without them they are reported as unavailable.
"""
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from builder.content import load as load_article, metrics_path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EDIT_MARKER = "layerwise-bench-edit"


def run(content="content", train=False, data_dir=None):
    rows = []
    with tempfile.TemporaryDirectory(prefix="layerwise-bench-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(content, tmp / "content")
        env = dict(os.environ, LAYERWISE_CACHE=str(tmp / "cache"))
        article = tmp / "content" / "article.md"

        rows.append(("cold build, committed checkpoint, empty cache (new process)",
                     f"{_timed_build(tmp, env):.2f} s"))
        _edit(article, 1)
        rows.append(("rebuild after a Markdown edit (new process, median of 5)",
                     f"{_median(_timed_build(tmp, env, n) for n in range(100, 105)):.2f} s"))
        rows.append(("importing PyTorch alone (new process, median of 5)",
                     f"{_median(_timed([sys.executable, '-c', 'import torch'], env) for _ in range(5)):.2f} s"))
        rows.append(("modules a prose-only rebuild imports from torch / matplotlib",
                     _heavy_imports(tmp, env, article)))
        rows.append(("tracing and describing the model, in a cold build (new process)",
                     f"{_trace_seconds(load_article(content).settings.model, env):.3f} s"))
        rows.append(("rebuild after a Markdown edit (live preview, in process)",
                     f"{_in_process_rebuild(tmp, article, env):.3f} s"))
        site = tmp / "site"
        files = [p for p in site.rglob("*") if p.is_file()]
        rows.append(("site: files, total bytes", f"{len(files):,} files, {sum(p.stat().st_size for p in files):,} B"))
        rows.append(("hand-written JavaScript", f"{sum(p.stat().st_size for p in site.glob('static/*.js')):,} B"))
        rows.append(("first load: requests, bytes", _first_load(site)))
        rows.append(("edit to page, live preview (median of 5)", _edit_to_page(tmp, env)))
        if train:
            metrics = _train(tmp, data_dir)
        else:
            settings = load_article(content).settings
            metrics = json.loads(metrics_path(settings.checkpoint, settings.metrics).read_text())
        rows += _training_rows(metrics)
    _print(rows)


def _build_command(tmp, *options):
    return [sys.executable, *options, "-m", "builder", "build", "--content", str(tmp / "content"),
            "--out", str(tmp / "site")]


def _timed_build(tmp, env, edit=None):
    if edit is not None:
        _edit(tmp / "content" / "article.md", edit)
    return _timed(_build_command(tmp), env)


def _timed(command, env):
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


TRACE = """
import sys, time
from builder import network
model = network.build_model(sys.argv[1])
started = time.perf_counter()
network.describe(model, network.graph.trace(model.eval(), network.input_shape(model), sys.argv[1]))
print(time.perf_counter() - started)
"""


def _trace_seconds(spec, env):
    """The first trace and description in a new process, as a cold build does it."""
    process = subprocess.run([sys.executable, "-c", TRACE, spec], check=True, env=env, capture_output=True, text=True)
    return float(process.stdout)


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def _heavy_imports(tmp, env, article):
    """Count the torch and matplotlib modules `python -X importtime` sees in a prose-only rebuild."""
    _edit(article, 99)
    process = subprocess.run(_build_command(tmp, "-X", "importtime"), check=True, env=env, capture_output=True,
                             text=True)
    names = [line.rsplit("|", 1)[-1].strip() for line in process.stderr.splitlines() if "import time:" in line]
    heavy = [name for name in names if name.split(".")[0] in ("torch", "matplotlib")]
    return f"{len(heavy)} of {len(names)}" + (f" (first: {heavy[0]})" if heavy else "")


def _edit(article, n):
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("\n\n", f"\n\n{EDIT_MARKER}-{n} ", 1), encoding="utf-8")


def _in_process_rebuild(tmp, article, env):
    os.environ["LAYERWISE_CACHE"] = env["LAYERWISE_CACHE"]
    from builder import build
    build.build(tmp / "content", tmp / "site")
    times = []
    for n in range(2, 7):
        _edit(article, n)
        started = time.perf_counter()
        build.build(tmp / "content", tmp / "site")
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright if Path(CHROMIUM).exists() else None


def _first_load(site):
    playwright = _browser()
    if playwright is None:
        return "unavailable (needs Playwright and Chromium)"
    handler = partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 412, "height": 823})
            sizes = []
            page.on("requestfinished", lambda request: sizes.append(request.sizes()["responseBodySize"]))
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html", wait_until="networkidle")
            browser.close()
    finally:
        server.shutdown()
    return f"{len(sizes)} requests, {sum(sizes):,} B (412 × 823 viewport)"


def _edit_to_page(tmp, env):
    playwright = _browser()
    if playwright is None:
        return "unavailable (needs Playwright and Chromium)"
    server = subprocess.Popen([sys.executable, "-m", "builder", "serve", "--port", "0", "--content",
                               str(tmp / "content"), "--out", str(tmp / "site")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = _served_url(server)
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe from filling
        article, times = tmp / "content" / "article.md", []
        with playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            for n in range(10, 15):
                page.wait_for_timeout(800)
                started = time.perf_counter()
                _edit(article, n)
                page.get_by_text(f"{EDIT_MARKER}-{n}").wait_for(timeout=20_000)
                times.append(time.perf_counter() - started)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    return f"{sorted(times)[len(times) // 2]:.2f} s"


def _served_url(server):
    for line in server.stdout:
        found = re.search(r"serving (\S+)", line)
        if found:
            return found.group(1)
    raise RuntimeError("the live preview stopped before serving")


def _train(tmp, data_dir):
    extra = ["--data", str(data_dir)] if data_dir else []
    subprocess.run([sys.executable, "-m", "builder", "train", "--checkpoint", str(tmp / "cnn.pt"), *extra], check=True)
    return json.loads((tmp / "cnn.json").read_text())


def _training_rows(metrics):
    rows = [("training: epochs, wall time", f"{len(metrics.get('epochs', []))} epochs, "
                                            f"{metrics.get('train_seconds', '?')} s"),
            ("test accuracy (10,000 images)", f"{100 * metrics['test_accuracy']:.2f}%"),
            ("training throughput", f"{metrics.get('images_per_second', '?'):,} images/s")]
    speed = metrics.get("benchmark")
    if speed:
        rows.append(("training FLOP rate vs. this machine's float32 matmul (same run)",
                     f"{speed['training_gflops']:.0f} of {speed['matmul_gflops']:.0f} GFLOP/s "
                     f"({100 * speed['fraction_of_matmul']:.0f}%)"))
    return rows


def _print(rows):
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"layerwise bench on {machine}\n")
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass
