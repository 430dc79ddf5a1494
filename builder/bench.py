"""Measure the figures the README quotes and print them as a Markdown table.

    python -m builder bench            # builds, serves and measures the site (about half a minute)
    python -m builder bench --train    # also retrains from scratch (about 2 minutes more)

Everything runs on a copy of content/ in a temporary folder, with its own
build cache, so the author's files and cache are left alone. The browser
figures (first-load bytes, edit-to-page time) need Playwright and Debian's
Chromium, as the tests do; without them they are reported as unavailable.
Training records only its wall time and accuracy (in the metrics, read here);
the speed of its optimiser steps, and the machine's matmul rate to compare it
with, are measured here, in this process.
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
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from builder.content import load as load_article, metrics_path
from builder.contract import url
from model import snapshots_file

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
        rows.append(("dataset examples and feature visualisation, in a cold build (new process)",
                     _channels_seconds(load_article(content).settings, env)))
        rows.append(("attributions of the article's inputs, in a cold build (new process)",
                     _attribution_seconds(load_article(content).settings, env, content)))
        rows.append(("computing the dataset examples over 10,000 test images (new process)",
                     _examples_seconds(load_article(content).settings, env, data_dir)))
        rows.append(("rebuild after a Markdown edit (live preview, in process)",
                     f"{_in_process_rebuild(tmp, article, env):.3f} s"))
        site = tmp / "site"
        files = [p for p in site.rglob("*") if p.is_file()]
        rows.append(("site: files, total bytes", f"{len(files):,} files, {sum(p.stat().st_size for p in files):,} B"))
        rows.append(("hand-written JavaScript", f"{sum(p.stat().st_size for p in site.glob('static/*.js')):,} B"))
        rows.append(("first load: requests, bytes", _first_load(site)))
        rows.append(("edit to page, live preview (median of 5)", _edit_to_page(tmp, env)))
        rows += _own_input_rows(site)
        if train:
            metrics, checkpoint = _train(tmp, data_dir), tmp / "cnn.pt"
        else:
            settings = load_article(content).settings
            metrics = json.loads(metrics_path(settings.checkpoint, settings.metrics).read_text())
            checkpoint = settings.checkpoint
        rows += _training_rows(metrics)
        rows += _training_speed_rows(data_dir)
        rows += _snapshot_rows(snapshots_file.path_for(checkpoint), site)
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


CHANNELS = """
import sys, tempfile, time
from pathlib import Path
from builder import network
net = network.load(*sys.argv[1:4])
started = time.perf_counter()
from builder import companions, examples, featurevis
found = companions.load(net.description).examples
with tempfile.TemporaryDirectory() as folder:
    examples.publish(Path(folder), net, found)
    middle = time.perf_counter()
    featurevis.publish(Path(folder), net, found)
print(middle - started, time.perf_counter() - middle)
"""


def _channels_seconds(settings, env):
    """What a cold build's generate stage spends publishing the examples and optimising the
    feature visualisations, after the network is loaded, as the build does it."""
    arguments = [settings.model, settings.checkpoint, str(metrics_path(settings.checkpoint, settings.metrics))]
    process = subprocess.run([sys.executable, "-c", CHANNELS, *arguments], env=env, capture_output=True, text=True)
    if process.returncode:
        return f"failed: {process.stderr.strip().splitlines()[-1]}"
    examples, optimised = map(float, process.stdout.split())
    return f"{examples + optimised:.2f} s (examples {examples:.2f} s, feature visualisation {optimised:.2f} s)"


ATTRIBUTIONS = """
import sys, time
from builder import inputs, network
from builder.errors import Problems
net = network.load(*sys.argv[1:4])
from builder import content
page = content.load(sys.argv[4])
chosen = inputs.resolve(page, net.classes, net.input_size, Problems())
started = time.perf_counter()
from builder import attributions
attributions.compute(net, chosen)
print(time.perf_counter() - started, len(chosen))
"""


def _attribution_seconds(settings, env, content):
    """What a cold build's generate stage spends on the attributions of the article's inputs:
    every class's gradient by autograd (integrated gradients would take STEPS times more)."""
    arguments = [settings.model, settings.checkpoint, str(metrics_path(settings.checkpoint, settings.metrics)),
                 str(content)]
    process = subprocess.run([sys.executable, "-c", ATTRIBUTIONS, *arguments], env=env, capture_output=True,
                             text=True)
    if process.returncode:
        return f"failed: {process.stderr.strip().splitlines()[-1]}"
    seconds, count = process.stdout.split()
    return f"{float(seconds):.3f} s ({count} inputs × every class)"


EXAMPLES = """
import sys, time
from builder import examples, network
from model import data
net = network.load(*sys.argv[1:4])
test = data.load("test", sys.argv[4] or None)
started = time.perf_counter()
found = examples.compute(net, test.images.numpy(), test.labels.numpy())
print(time.perf_counter() - started, len(test.images))
"""


def _examples_seconds(settings, env, data_dir):
    """`layerwise examples`' computation (the dataset loaded, PyTorch imported): run the network over
    the test set and keep the top images of every unit. Not written anywhere."""
    arguments = [settings.model, settings.checkpoint, str(metrics_path(settings.checkpoint, settings.metrics)),
                 str(data_dir or "")]
    process = subprocess.run([sys.executable, "-c", EXAMPLES, *arguments], env=env, capture_output=True, text=True)
    if process.returncode:
        return "unavailable (needs FashionMNIST)" if "DataNotFound" in process.stderr else \
            f"failed: {process.stderr.strip().splitlines()[-1]}"
    seconds, images = process.stdout.split()
    return f"{float(seconds):.1f} s for {int(images):,} images"


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


@contextmanager
def _page_on(site, viewport):
    """(a Chromium page, the URL of `site`'s index.html served on a free local port), for one
    measurement."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with _browser()() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser.new_page(viewport=viewport), f"http://127.0.0.1:{server.server_port}/index.html"
            browser.close()
    finally:
        server.shutdown()


def _first_load(site):
    if _browser() is None:
        return "unavailable (needs Playwright and Chromium)"
    with _page_on(site, {"width": 412, "height": 823}) as (page, url):
        responses = []
        page.on("response", lambda response: responses.append(response))
        page.goto(url, wait_until="networkidle")
        sizes = [len(response.body()) for response in responses]  # the bodies as sent, as test_budget counts them
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


# In the page: the forward pass alone, 50 times, with the page's own modules (milliseconds each).
FORWARD_TIMES = """async () => {
  const { Site } = await import('./static/site.js');
  const { normalise, run } = await import('./static/forward.js');
  const site = new Site(document.body.dataset.contract);
  const network = await site.network();
  const weights = {};
  for (const layer of network.layers) weights[layer.id] = await site.weights(layer);
  const pixels = Uint8Array.from({ length: 784 }, (_, i) => (i * 37) % 256), times = [];
  for (let n = 0; n < 50; n++) {
    const started = performance.now();
    run(network.layers, normalise(pixels, network.layers[0].shape, network.normalisation), weights);
    times.push(performance.now() - started);
  }
  return times;
}"""


def _own_input_rows(site):
    """The reader's own input in Chromium: what the first drawing fetches, the forward pass alone,
    and the time from each change on the pad to its maps painted while drawing."""
    if _browser() is None:
        return [("drawing your own input", "unavailable (needs Playwright and Chromium)")]
    with _page_on(site, {"width": 1280, "height": 900}) as (page, url):
        page.goto(url, wait_until="networkidle")
        fetched = []
        page.on("requestfinished", lambda request: fetched.append(
            (request.url, request.sizes()["responseBodySize"])))
        page.locator(".lw-draw").click()
        pad = page.locator(".lw-sketch-canvas")
        pad.wait_for()
        box = pad.bounding_box()
        for row in (0.2, 0.4, 0.6, 0.8):
            page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + row * box["height"])
            page.mouse.down()
            for step in range(1, 31):
                page.mouse.move(box["x"] + (0.1 + 0.8 * step / 30) * box["width"], box["y"] + row * box["height"])
                page.wait_for_function("() => performance.getEntriesByName('lw-drawn', 'mark').length === 0")
            page.mouse.up()
        redraws = page.evaluate("() => performance.getEntriesByName('lw-redraw').map(entry => entry.duration)")
        forward = page.evaluate(FORWARD_TIMES)
    weights = [size for url, size in fetched if "/data/weights/" in url]
    return [("drawing: fetched on first use (weights, network, code)",
             f"{sum(size for _, size in fetched):,} B in {len(fetched)} requests, of which weights "
             f"{sum(weights):,} B in {len(weights)} files"),
            ("drawing: forward pass in Chromium (median of 50)", f"{_median(forward):.2f} ms"),
            ("drawing: forward pass and repaint per pen move (median of {}, 90th pct)".format(len(redraws)),
             f"{_median(redraws):.2f} ms, {sorted(redraws)[int(0.9 * len(redraws))]:.2f} ms")]


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
    return [("training: epochs, wall time", f"{len(metrics.get('epochs', []))} epochs, "
                                            f"{metrics.get('train_seconds', '?')} s"),
            ("test accuracy (10,000 images)", f"{100 * metrics['test_accuracy']:.2f}%")]


def _training_speed_rows(data_dir, steps=60, warm_up=10):
    """The recipe's optimiser steps alone, as model.train.fit takes them (FashionCNN with its batch
    norms, channels-last and pools before ReLUs; batches augmented as in training), timed in this
    process after `warm_up` steps, and this machine's float32 matmul rate, measured just before."""
    import torch
    from model import data, train
    from model.cnn import FashionCNN
    try:
        dataset = data.open(None, data_dir)
    except data.DataNotFound:
        return [("training throughput", "unavailable (needs FashionMNIST)")]
    recipe, model = train.declared(train.Recipe(), dataset), FashionCNN()
    images = train.Images.load(dataset, recipe)
    matmul_gflops = measure_matmul_gflops()
    network, _, _ = train._training_network(model, recipe.batch_norm, convolutions=recipe.conv_norms)
    optimiser, schedule = train.optimiser_for(network, recipe, steps)
    generator = torch.Generator().manual_seed(recipe.seed)
    batches = torch.randperm(len(images.y_train), generator=generator).split(recipe.batch_size)[:steps]
    train._keep_freed_memory()
    network.train()
    for n, idx in enumerate(batches):
        if n == warm_up:
            started = time.perf_counter()
        train.step(network, optimiser, schedule, train._augment(images.train_batch(idx), generator, recipe),
                   images.y_train[idx], bfloat16=recipe.bfloat16)
    per_second = (steps - warm_up) * recipe.batch_size / (time.perf_counter() - started)
    gflops = per_second * training_flops_per_image(model, data.IMAGE_SHAPE) / 1e9
    return [(f"training throughput (the recipe's optimiser steps, {steps - warm_up} batches of {recipe.batch_size})",
             f"{per_second:,.0f} images/s"),
            ("training FLOP rate vs. this machine's float32 matmul (same process)",
             f"{gflops:.0f} of {matmul_gflops:.0f} GFLOP/s ({100 * gflops / matmul_gflops:.0f}%)")]


def measure_matmul_gflops(n=2048, seconds=1.0):
    """The machine's float32 matrix-multiply rate in GFLOP/s: the best n×n @ n×n in `seconds`.

    The best rather than the mean, because other programs on the machine only
    ever slow it down.
    """
    import torch
    a, b, out = torch.full((n, n), 0.5), torch.full((n, n), 2.0), torch.empty(n, n)
    torch.mm(a, b, out=out)  # wakes the threads
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        best = max(best, 2 * n**3 / (time.perf_counter() - started) / 1e9)
    return best


def training_flops_per_image(model, image_shape):
    """Floating-point operations to train on one image, forward and backward.

    Counts the multiply-adds of every Conv2d and Linear module the forward pass
    calls (2 FLOPs each) on one image of `image_shape` (C, H, W), and takes
    backward as twice forward. Activations, pooling, normalisation and biases
    are left out: they add well under 1 %.
    """
    import torch
    from torch import nn
    multiply_adds = 0

    def count(module, args, output):
        nonlocal multiply_adds
        per_output = module.weight[0].numel() if isinstance(module, nn.Conv2d) else module.in_features
        multiply_adds += output.numel() * per_output  # per output value: in-channels × kernel, or inputs

    hooks = [module.register_forward_hook(count) for module in model.modules()
             if isinstance(module, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *image_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return 3 * 2 * multiply_adds


def _snapshot_rows(kept, site):
    """The snapshots file's size, and the bytes a reader fetches to see the network at every moment."""
    if not kept.is_file():
        return [("training snapshots", f"none ({kept} not found)")]
    published = [site / url("training"), *sorted((site / url("snapshot", step=0)).parent.glob("*.f32"))]
    sizes = [path.stat().st_size for path in published if path.is_file()]
    return [("training snapshots: the committed file", f"{len(sizes) - 1} snapshots, {kept.stat().st_size:,} B"),
            ("training snapshots as published: all of them, the largest one",
             f"{sum(sizes):,} B in {len(sizes)} files, {max(sizes[1:], default=0):,} B")]


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
