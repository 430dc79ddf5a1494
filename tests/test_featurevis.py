"""Feature visualisation: the images the build optimises to excite each convolution channel.

Each published image is rebuilt from its atlas and run through tests/oracle.py's float64 forward
pass: it reaches the published values, and excites its channel more than the mean test image
does (how often it beats the best dataset example is printed). For the first convolution, which
is linear in its input, the published image is checked to be the optimum of the objective the
index states, regularisation included. Two cold builds on different caches, one on one thread,
publish the same bytes.

    .venv/bin/python -m pytest tests/test_featurevis.py -s     # -s prints the counts
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import CHECKPOINT, CONTENT, REPO, tree_digest
from oracle import FASHION_CNN, conv_weights, forward, normalised


@pytest.fixture(scope="module")
def optimised(site, site_url):
    """The feature visualisation index, each layer with "images": the full uint8 input images
    (channels, H, W) it describes, rebuilt from the atlas (background outside the box)."""
    index = json.loads((site / site_url("featurevis")).read_text(encoding="utf-8"))
    _, height, width = next(layer for layer in json.loads((site / site_url("network")).read_text())["layers"]
                            if layer["id"] == "input")["shape"]
    for layer in index["layers"]:
        atlas = np.asarray(Image.open(site / site_url("featurevis_atlas", layer=layer["id"])).convert("L"))
        (h, w), (top, left), box = layer["tile"], layer["origin"], layer["box"]
        images = np.zeros((layer["channels"], height, width), dtype=np.uint8)
        for c, (x, y) in enumerate(layer["tiles"]):
            tile = atlas[y:y + h, x:x + w]
            images[c, box[0]:box[2], box[1]:box[3]] = tile[box[0] - top:box[2] - top, box[1] - left:box[3] - left]
            outside = np.ones((h, w), dtype=bool)
            outside[box[0] - top:box[2] - top, box[1] - left:box[3] - left] = False
            assert not tile[outside].any(), "a tile is 0 where its field leaves the image"
        layer["images"] = images
    return index


@pytest.fixture(scope="module")
def state():
    return torch.load(CHECKPOINT, map_location="cpu", weights_only=True)


def channel_maps(state, images, normalisation, layer_id):
    """Each image's output of layer_id (float64, oracle.forward): (N, C, H, W)."""
    with torch.no_grad():
        return forward(FASHION_CNN, state, normalised(images, **normalisation))[layer_id]


def test_every_convolution_channel_has_an_optimised_image(optimised, network_json):
    shapes = {layer["id"]: layer["shape"] for layer in network_json["layers"]}
    convolutions = [name for name, kind, _ in FASHION_CNN if kind == "conv"]
    assert [(layer["id"], layer["channels"]) for layer in optimised["layers"]] == \
        [(name, shapes[name][0]) for name in convolutions]


def test_optimised_images_reach_their_values_and_beat_the_mean_test_image(optimised, state, network_json,
                                                                         fashion_test_split):
    normalisation = network_json["normalisation"]
    mean_image = np.rint(fashion_test_split.images.double().mean(0).numpy()).astype(np.uint8)[None]
    report = []
    for layer in optimised["layers"]:
        maps = channel_maps(state, layer["images"], normalisation, layer["id"])
        own = maps[torch.arange(layer["channels"]), torch.arange(layer["channels"])]  # image c, channel c
        reached = own.flatten(1).amax(1).numpy()
        row, col = layer["unit"]
        assert np.allclose(reached, layer["value"], rtol=2e-5, atol=2e-5), f"{layer['id']}: values not reached"
        assert np.allclose(own[:, row, col].numpy(), layer["centre"], rtol=2e-5, atol=2e-5), layer["id"]
        mean = channel_maps(state, mean_image, normalisation, layer["id"])[0].flatten(1).amax(1).numpy()
        losing = np.flatnonzero(reached <= mean)
        assert not len(losing), f"{layer['id']}: channels {losing} excite less than the mean test image"
        best = np.array(layer["best_example"])
        beats = reached > best
        report.append(f"{layer['id']}: {beats.sum()} of {len(beats)} channels beat their best test image "
                      f"(median ratio {np.median(reached / best):.2f}, lowest {np.min(reached / best):.2f})")
    print("\n".join(report))


def test_the_first_convolutions_images_are_the_optimum_of_the_stated_objective(optimised, site, network_json):
    """conv1 is linear in its input, so the objective the index states (the centre unit, minus the
    L2 and total-variation penalties, within the pixel range) is concave: the published image is
    its optimum: no pixel can move by one gray level and gain more than a thousandth of it (pixels
    whose weight is near 0 settle slowly, and the image is rounded to gray levels)."""
    layer = next(layer for layer in optimised["layers"] if layer["id"] == "conv1")
    regularisation = optimised["method"]["regularisation"]
    conv1 = next(entry for entry in network_json["layers"] if entry["id"] == "conv1")
    weight, bias = conv_weights(site, conv1)
    normalisation, (row, col), box = network_json["normalisation"], layer["unit"], layer["box"]
    level = 1 / 255 / normalisation["std"][0]  # one channel

    def objective(x, c):
        unit = F.conv2d(x[None, None], weight[c:c + 1], bias[c:c + 1], padding=tuple(conv1["padding"]))[0, 0, row, col]
        inside = x[box[0]:box[2], box[1]:box[3]]
        variation = (inside[1:] - inside[:-1]).abs().sum() + (inside[:, 1:] - inside[:, :-1]).abs().sum()
        return float(unit - regularisation["l2"] * ((inside - regularisation["background"]) ** 2).sum()
                     - regularisation["tv"] * variation)

    for c, image in enumerate(layer["images"]):
        x = normalised(image, **normalisation)[0, 0]
        here = objective(x, c)
        for r in range(box[0], box[2]):
            for q in range(box[1], box[3]):
                for step in (-1, 1):
                    if 0 <= int(image[r, q]) + step <= 255:
                        moved = x.clone()
                        moved[r, q] += step * level
                        assert objective(moved, c) <= here + 1e-3 * abs(here), \
                            f"conv1 channel {c}: moving pixel {(r, q)} by {step} gains"


def test_two_cold_builds_publish_the_same_bytes(site, site_url, tmp_path):
    """A second build from an empty cache, on one thread, writes the same examples and optimised images."""
    env = dict(os.environ, LAYERWISE_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    process = subprocess.run([sys.executable, "-m", "builder", "build", "--content", str(CONTENT), "--out",
                              str(tmp_path / "site")], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    for folder in {Path(site_url(kind)).parts[0] for kind in ("examples", "featurevis")}:
        assert (site / folder).is_dir()
        assert tree_digest(tmp_path / "site" / folder) == tree_digest(site / folder), folder
