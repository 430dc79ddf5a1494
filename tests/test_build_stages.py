"""The build's stages from the outside: what a prose edit costs, where files go, small promises.

A rebuild after a prose edit must find every generated file in the cache and so never import
PyTorch or matplotlib (seen with `python -X importtime`, as the issue asks), and its site must be
byte-identical to a full build's. Frame and data paths come from data/contract.json and must not
collide whatever the author calls an image.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CHECKPOINT, CONTENT, CONTRACT, REPO, contract_of, tree_digest, urls_of
from oracle import conv_weights, normalised

HEAVY = ("torch", "matplotlib")


def build(content, out, cache, *python_options):
    """`python [options] -m builder build` from the repository root, with its own cache."""
    env = dict(os.environ, LAYERWISE_CACHE=str(cache))
    return subprocess.run([sys.executable, *python_options, "-m", "builder", "build", "--content", str(content),
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def imported(importtime_stderr):
    """Top-level package names in `python -X importtime` output."""
    return {line.rsplit("|", 1)[-1].strip().split(".")[0]
            for line in importtime_stderr.splitlines() if line.startswith("import time:")}


@pytest.fixture
def copied_content(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    return content


def test_a_prose_edit_rebuilds_without_pytorch_and_gives_the_full_builds_bytes(copied_content, tmp_path):
    cache = tmp_path / "cache"
    first = build(copied_content, tmp_path / "site", cache, "-X", "importtime")
    assert first.returncode == 0, first.stderr
    assert set(HEAVY) <= imported(first.stderr), "a cold build runs the network and draws the charts"

    article = copied_content / "article.md"
    article.write_text(article.read_text(encoding="utf-8").replace(
        "A convolutional neural network turns", "A convolutional neural network, as edited, turns", 1),
        encoding="utf-8")
    again = build(copied_content, tmp_path / "site", cache, "-X", "importtime")
    assert again.returncode == 0, again.stderr
    assert not set(HEAVY) & imported(again.stderr), "a prose-only rebuild imported PyTorch or matplotlib"
    assert "as edited" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")

    full = build(copied_content, tmp_path / "full", tmp_path / "fresh-cache")
    assert full.returncode == 0, full.stderr
    assert tree_digest(tmp_path / "site") == tree_digest(tmp_path / "full")


def test_a_new_checkpoint_is_never_served_from_the_cache(copied_content, tmp_path):
    """The cache is keyed on the checkpoint's bytes: other weights give other numbers."""
    cache = tmp_path / "cache"
    assert build(copied_content, tmp_path / "one", cache).returncode == 0
    import torch
    state = torch.load(CHECKPOINT, weights_only=True)
    state["conv1.bias"] = state["conv1.bias"] + 1.0
    model = tmp_path / "model"
    model.mkdir()
    torch.save(state, model / "cnn.pt")
    metrics = json.loads(CHECKPOINT.with_suffix(".json").read_text(encoding="utf-8"))
    metrics.pop("weights_sha256")  # these metrics describe other weights; say nothing about which
    metrics.pop("snapshots")  # nor about moments of a training these weights never had
    (model / "cnn.json").write_text(json.dumps(metrics), encoding="utf-8")
    article = copied_content / "article.md"
    article.write_text(article.read_text(encoding="utf-8").replace(
        "---\n", f"---\ncheckpoint: {model / 'cnn.pt'}\n", 1), encoding="utf-8")
    assert build(copied_content, tmp_path / "two", cache).returncode == 0

    network = json.loads((tmp_path / "two" / urls_of(tmp_path / "two")("network")).read_text(encoding="utf-8"))
    conv1 = next(layer for layer in network["layers"] if layer["id"] == "conv1")
    _, bias = conv_weights(tmp_path / "two", conv1)
    assert np.array_equal(bias.numpy(), state["conv1.bias"].double().numpy())


NAMES = ["kernels", "legends", "inputs", "network", "contract", "input", "conv1", "0"]


def test_images_named_like_the_sites_own_files_keep_their_own_frames(tmp_path):
    """An author may call an image anything (kernels.png was once drawn over by the filters)."""
    content = tmp_path / "content"
    (content / "inputs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    pictures = {name: np.pad(rng.integers(0, 256, (20, 20), dtype=np.uint8), 4) for name in NAMES}  # dark border
    for name, pixels in pictures.items():
        Image.fromarray(pixels, "L").save(content / "inputs" / f"{name}.png")
    (content / "article.md").write_text(f"---\ncheckpoint: {CHECKPOINT}\n---\n\n![Input](layer:input)\n",
                                        encoding="utf-8")
    process = build(content, tmp_path / "site", tmp_path / "cache")
    assert process.returncode == 0, process.stderr

    site = tmp_path / "site"
    url, scale = urls_of(site), contract_of(site)["scales"]["input"]
    palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)]
                        for c in contract_of(site)["palettes"][scale["cmap"]]])
    normalisation = json.loads((site / url("network")).read_text(encoding="utf-8"))["normalisation"]
    for name, pixels in pictures.items():
        record = json.loads((site / url("record", input=name)).read_text(encoding="utf-8"))
        assert record["id"] == name
        frame = np.asarray(Image.open(site / url("map", input=name, layer="input", k=0)).convert("RGB"))
        values = normalised(pixels, **normalisation).numpy()[0, 0]
        index = np.rint((values - scale["vmin"]) / (scale["vmax"] - scale["vmin"]) * 255).clip(0, 255)
        off = np.abs(frame.astype(int) - palette[index.astype(int)]).max(axis=-1) > 0
        assert off.sum() <= 2, f"{name}: the input frame is not this image"  # float ties at palette edges
    for k in range(16):
        assert Image.open(site / url("kernel", layer="conv1", k=k)).size == (3, 3)


def test_every_generated_file_is_named_by_a_contract_pattern(site, site_url, contract, network_json, summaries):
    """The contract's patterns describe the site's files exactly: none missing, none unnamed."""
    expected = {CONTRACT, site_url("network"), site_url("inputs")}
    for entry in summaries:
        expected |= {site_url("record", input=entry["id"]), site_url("exact", input=entry["id"])}
        for layer in network_json["layers"]:
            if len(layer["shape"]) == 3:
                expected |= {site_url("map", input=entry["id"], layer=layer["id"], k=k)
                             for k in range(layer["shape"][0])}
                expected.add(site_url("overview", input=entry["id"], layer=layer["id"]))  # all its maps
            else:
                expected.add(site_url("vector", input=entry["id"], layer=layer["id"]))
    for layer in network_json["layers"]:
        if layer["type"] == "Conv2d":
            expected |= {site_url("kernel", layer=layer["id"], k=k) for k in range(layer["shape"][0])}
        if layer.get("tensors"):
            expected.add(site_url("weights", layer=layer["id"]))
    expected |= {site_url("legend", cmap=cmap) for cmap in contract["palettes"]}
    expected.add(site_url("chart", name="training"))  # the confusion matrix is a table in the page
    cells = json.loads((site / site_url("confusion")).read_text(encoding="utf-8"))["cells"]
    expected |= {site_url("confusion")} | {site_url("confusion_cell", true=int(cell.split("-")[0]),
                                                    predicted=int(cell.split("-")[1])) for cell in cells}
    for entry in summaries:  # each input's attributions, and its predicted class's map
        expected |= {site_url("attribution", input=entry["id"]), site_url("attribution_map", input=entry["id"])}
    expected |= {site_url("attributions"), site_url("training"), site_url("learning_record")}
    moments = json.loads((site / site_url("training")).read_text(encoding="utf-8"))["snapshots"]
    expected |= {site_url("snapshot", step=moment["step"]) for moment in moments}  # each moment of training
    if moments:  # and each convolution's filters at every moment
        expected |= {site_url("learning", layer=layer["id"])
                     for layer in network_json["layers"] if layer["type"] == "Conv2d"}
    if (CONTENT / "tour.md").exists():  # the guided tour, only with content/tour.md (builder/tour.py)
        expected.add(site_url("tour"))
    if "tests" in contract["urls"]:  # every test image, where the build could read the dataset (builder/testset.py)
        tests = json.loads((site / site_url("tests")).read_text(encoding="utf-8"))
        expected |= {site_url("tests")} | {site_url("test_chunk", chunk=n)
                                           for n in range(-(-tests["count"] // tests["chunk"]))}
    found = {p.relative_to(site).as_posix() for folder in ("data", "frames", "charts")
             for p in (site / folder).rglob("*") if p.is_file()}
    assert found == expected


def test_out_into_a_folder_whose_parent_does_not_exist(tmp_path, built):
    out = tmp_path / "deep" / "er" / "site"
    process = build(CONTENT, out, tmp_path / "cache")
    assert process.returncode == 0, process.stderr
    assert tree_digest(out) == tree_digest(built.site)


def test_a_missing_template_is_named_relative_to_the_project(tmp_path):
    """Not as an absolute path the author never typed."""
    theme = Path(REPO / ".cache" / f"test-theme-{os.getpid()}")
    shutil.rmtree(theme, ignore_errors=True)
    shutil.copytree(REPO / "themes" / "default", theme)
    try:
        (theme / "templates" / "figure.html").unlink()
        content = tmp_path / "content"
        shutil.copytree(CONTENT, content)
        article = content / "article.md"
        relative = theme.relative_to(REPO).as_posix()
        article.write_text(article.read_text(encoding="utf-8").replace("---\n", f"---\ntheme: {relative}/\n", 1),
                           encoding="utf-8")
        process = build(content, tmp_path / "site", tmp_path / "cache")
    finally:
        shutil.rmtree(theme, ignore_errors=True)
    assert process.returncode == 1
    assert process.stderr.startswith(f"error: {relative}/templates/figure.html: template 'figure.html' not found")


def test_the_layerwise_command_builds_like_python_m_builder(tmp_path, built):
    command = Path(sys.executable).with_name("layerwise")
    process = subprocess.run([str(command), "build", "--content", str(CONTENT), "--out", str(tmp_path / "site")],
                             cwd=REPO, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    assert tree_digest(tmp_path / "site") == tree_digest(built.site)
    usage = subprocess.run([str(command), "--help"], capture_output=True, text=True)
    assert usage.stdout.startswith("usage: layerwise")
