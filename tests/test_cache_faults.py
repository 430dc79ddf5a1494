"""The cache never serves stale truth: edit each kind of file a build reads, and the next build's
site equals a build with an empty cache, from the command line and in the live preview.

The project is an author's own: a model in custom/net.py that imports custom/parts/act.py when it
is made, which imports helpers/kinds.py from another folder, a theme of its own, a checkpoint and
its metrics. Each edit must also show on the page, so a build that ignored it could not pass. One
edit keeps the file's size and time of modification, which is all a cached .pyc is checked by.

    .venv/bin/python -m pytest tests/test_cache_faults.py
"""
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import CONTENT, REPO, tree_digest
from test_serve import Output

NET = '''from torch import nn


class Net(nn.Sequential):
    """conv → activation → pool → linear, its activation chosen in another module."""
    input_shape = (1, 28, 28)
    classes = tuple("abcdefghij")

    def __init__(self):
        from custom.parts.act import Act  # imported only when the model is made
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.act1 = Act()
        self.pool1 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 14 * 14, 10)
'''
ACT = '''from torch import nn

from helpers.kinds import KIND

Act = {"relu": nn.ReLU, "tanh": nn.Tanh}[KIND]
'''
ARTICLE = '''---
model: custom.net:Net
checkpoint: weights/net.pt
theme: themes/mine
---

A small network of the author's own.

{{ summary_table }}

![The first maps](layer:conv1)

![After the activation](layer:act1)
'''


def replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    write_bytes(path, text.replace(old, new, 1).encode())


def write_bytes(path, data):
    """Save as editors do: a whole new file in place of the old, never one half-written."""
    partial = path.with_name(path.name + "~")  # a backup name the preview ignores
    partial.write_bytes(data)
    partial.replace(path)


def same_size_and_time(path, old, new):
    """An edit that a .pyc cannot tell from no edit: the same size, the same modification time."""
    assert len(old) == len(new)
    before = path.stat()
    replace(path, old, new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def save_weights(project, seed):
    sys.path.insert(0, str(project))
    try:
        from custom.net import Net
        torch.manual_seed(seed)
        saved = io.BytesIO()
        torch.save(Net().state_dict(), saved)
        write_bytes(project / "weights" / "net.pt", saved.getvalue())
    finally:
        sys.path.remove(str(project))
        for name in [name for name in sys.modules if name.split(".")[0] in ("custom", "helpers")]:
            del sys.modules[name]


def darken_corner(project):
    path = project / "content" / "inputs" / "test-00019.png"
    pixels = np.array(Image.open(path))
    pixels[:10, :10] = 255 - pixels[:10, :10]
    saved = io.BytesIO()
    Image.fromarray(pixels).save(saved, format="PNG")
    write_bytes(path, saved.getvalue())


def edit_metrics(project):
    path = project / "weights" / "net.json"
    metrics = json.loads(path.read_text())
    write_bytes(path, json.dumps(dict(metrics, test_accuracy=0.625)).encode())


# Every kind of file a build reads, and an edit to it that changes the page.
EDITS = [
    ("article", lambda p: replace(p / "content" / "article.md", "of the author's own", "of the author's, edited")),
    ("a new tour", lambda p: write_bytes(p / "content" / "tour.md",
                                         b"## Choose {target=lw-picker control=choices}\n\nPick one.\n")),
    ("the tour", lambda p: replace(p / "content" / "tour.md", "Pick one.", "Pick another.")),
    ("template", lambda p: replace(p / "themes" / "mine" / "templates" / "figure.html", "</figure>",
                                   "<p>an edited template</p></figure>")),
    ("theme asset", lambda p: replace(p / "themes" / "mine" / "static" / "style.css", "}", "} /* edited */")),
    ("input image", darken_corner),
    ("checkpoint", lambda p: save_weights(p, seed=1)),
    ("metrics", edit_metrics),
    ("the model's module", lambda p: replace(p / "custom" / "net.py", "nn.MaxPool2d(2)", "nn.AvgPool2d(2)")),
    ("a module it imports", lambda p: same_size_and_time(p / "custom" / "parts" / "act.py", '"relu": nn.ReLU',
                                                        '"relu": nn.GELU')),
    ("a module that one imports", lambda p: replace(p / "helpers" / "kinds.py", '"relu"', '"tanh"')),
]


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    for folder in ("custom/parts", "helpers", "content/inputs", "weights"):
        (root / folder).mkdir(parents=True)
    for package in ("custom", "custom/parts", "helpers"):
        (root / package / "__init__.py").write_text("")
    (root / "custom" / "net.py").write_text(NET)
    (root / "custom" / "unused.py").write_text("ANSWER = 42\n")
    (root / "custom" / "parts" / "act.py").write_text(ACT)
    (root / "helpers" / "kinds.py").write_text('KIND = "relu"\n')
    (root / "content" / "article.md").write_text(ARTICLE)
    shutil.copy(CONTENT / "inputs" / "test-00019.png", root / "content" / "inputs")
    shutil.copytree(REPO / "themes" / "default", root / "themes" / "mine")
    save_weights(root, seed=0)
    (root / "weights" / "net.json").write_text(json.dumps(dict(normalisation=dict(mean=0.286, std=0.353),
                                                               test_accuracy=0.5)))
    return root


def build(project, out, cache):
    """`python -m builder build` in the project's folder, as its author runs it."""
    process = subprocess.run([sys.executable, "-m", "builder", "build", "--out", str(out)], cwd=project,
                             env=_env(cache), capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    return tree_digest(out)


def _env(cache):
    """The author's environment: Python writes .pyc files, as it does by default."""
    env = dict(os.environ, LAYERWISE_CACHE=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def test_every_edit_gives_what_an_empty_cache_gives_on_the_command_line_and_in_the_preview(project, tmp_path):
    preview_out = tmp_path / "preview-site"
    server = subprocess.Popen([sys.executable, "-m", "builder", "serve", "--port", "0", "--out", str(preview_out)],
                              cwd=project, env=_env(tmp_path / "preview-cache"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        output = Output(server.stdout)
        output.wait_for(r"^serving http://")
        before = build(project, tmp_path / "site", tmp_path / "cache")
        for number, (what, edit) in enumerate(EDITS):
            seen = len(output.lines)
            edit(project)
            warm = build(project, tmp_path / "site", tmp_path / "cache")
            cold = build(project, tmp_path / f"cold-{number}", tmp_path / f"cold-cache-{number}")
            assert cold != before, f"editing {what} should change the page"
            assert warm == cold, f"after editing {what}, the build with a warm cache differs from a cold build"
            output.wait_for(r"^rebuilt in", after=seen)
            _wait_until_same(preview_out, cold, output, what)
            before = cold
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_until_same(site, expected, output, what):
    """Wait for the preview's site to be the cold build's, rebuild by rebuild."""
    while True:
        seen = len(output.lines)
        try:
            if tree_digest(site) == expected:
                return
        except OSError:  # the site is being swapped for a newer build
            pass
        try:
            output.wait_for(r"^rebuilt in", after=seen, timeout=60)
        except AssertionError:
            raise AssertionError(f"after editing {what}, the preview's site is not what an empty cache "
                                 f"gives; it printed {output.lines}") from None


def test_an_edit_to_a_module_the_model_does_not_import_is_a_cache_hit(project, tmp_path):
    """The key covers the modules Python loaded for the model, not every file of its folder."""
    cache = tmp_path / "cache"
    build(project, tmp_path / "site", cache)
    entries = sorted(path.name for path in cache.iterdir())
    (project / "custom" / "unused.py").write_text("ANSWER = 43\n")
    build(project, tmp_path / "site", cache)
    assert sorted(path.name for path in cache.iterdir()) == entries
    replace(project / "custom" / "parts" / "act.py", '"relu": nn.ReLU', '"relu": nn.ELU')
    build(project, tmp_path / "site", cache)
    assert sorted(path.name for path in cache.iterdir()) != entries, "an edit to an imported module is a miss"


def test_a_build_cached_before_the_dataset_could_be_read_publishes_its_test_images_once_it_can(project, tmp_path):
    """The generate step reads the dataset's test split to publish every test image (builder.testset);
    a build without the dataset publishes none, and the next build, the dataset now there, gives what an
    empty cache gives: the test images."""
    metrics = project / "weights" / "net.json"
    dataset = dict(spec="images/fashion", input_shape=[1, 28, 28])  # a folder dataset, not there yet
    write_bytes(metrics, json.dumps(dict(json.loads(metrics.read_text()), dataset=dataset)).encode())
    build(project, tmp_path / "site", tmp_path / "cache")
    assert not (tmp_path / "site" / "data" / "tests.json").exists(), "no dataset, no test images"
    pixels = np.random.default_rng(0).integers(0, 256, (2, 10, 28, 28), dtype=np.uint8)
    for split, images in zip(("train", "test"), pixels):
        for name, image in zip("abcdefghij", images):
            (project / "images" / "fashion" / split / name).mkdir(parents=True)
            Image.fromarray(image).save(project / "images" / "fashion" / split / name / "0.png")
    warm = build(project, tmp_path / "site", tmp_path / "cache")
    cold = build(project, tmp_path / "cold", tmp_path / "cold-cache")
    assert (tmp_path / "cold" / "data" / "tests.json").is_file()
    assert warm == cold, "the build cached without the dataset was served once the dataset was there"
