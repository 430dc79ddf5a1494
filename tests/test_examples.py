"""Dataset examples: the test images that excite each channel and unit most, as published.

Checked against an independent pass over all 10,000 test images (tests/oracle.py's float64
forward with torch.nn.functional, never the builder's code): every unit's published 9 are the
true top 9 with their values; map crops are the units' receptive fields as autograd finds them;
the committed file is what the command computes today, byte for byte; a file made for other
weights is refused in one line; a checkpoint without one still builds; authors' models get theirs.

    .venv/bin/python -m pytest tests/test_examples.py
"""
import json
import re
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from builder.contract import url as contract_url
from conftest import CHECKPOINT, CONTENT, METRICS, copy_checkpoint, run_cli, urls_of
from model.cnn import FashionCNN
from oracle import FASHION_CNN, depends_on, field_geometry, forward, normalised, rectangle, steps_of

EXAMPLES = CHECKPOINT.with_name("cnn.examples.npz")
COUNT = 9


# --- reading what the site publishes ---------------------------------------------------------------

def published(site):
    """(network.json, the examples index, {layer id: its examples record, in the index's order, with
    "pixels": each unit's tiles (units, 9, h, w) cut from the atlases, and "shape": the layer's})."""
    url = urls_of(site)
    network = json.loads((site / url("network")).read_text(encoding="utf-8"))
    shapes = {layer["id"]: layer["shape"] for layer in network["layers"]}
    index = json.loads((site / url("examples")).read_text(encoding="utf-8"))
    layers = {}
    for entry in index["layers"]:
        record = json.loads((site / url("examples_layer", layer=entry["id"])).read_text(encoding="utf-8"))
        record["shape"] = shapes[entry["id"]]
        atlases = [np.asarray(Image.open(site / url("examples_atlas", layer=entry["id"], part=part)).convert("L"))
                   for part in range(len(record["atlases"]))]
        h, w = record["tile"]
        record["pixels"] = np.array([[atlases[unit["atlas"]][y:y + h, x:x + w] for x, y in unit["tiles"]]
                                     for unit in record["units"]])
        layers[entry["id"]] = record
    return network, index, layers


# --- the independent pass over the test set --------------------------------------------------------

def scores(steps, state, images, normalisation, layers, batch=500):
    """{layer: (N, units) float64}: each channel's maximum over positions, each vector unit's value,
    for every image, from oracle.forward."""
    found = {layer: [] for layer in layers}
    with torch.no_grad():
        for start in range(0, len(images), batch):
            outputs = forward(steps, state, normalised(images[start:start + batch], **normalisation))
            for layer in layers:
                values = outputs[layer]
                found[layer].append((values.flatten(2).amax(2) if values.dim() == 4 else values).numpy())
    return {layer: np.concatenate(parts) for layer, parts in found.items()}


def check_top_nine(layers, oracle, split, steps, state, normalisation):
    """Every unit's published examples are the true top 9: their values are the oracle's for those
    images, no other image scores higher (float32 ties aside), ties at exactly 0 go to the lowest
    test indices, and map positions hold the maximum. Returns how many units list exactly the
    oracle's own 9 in its order."""
    same_order = 0
    for layer_id, record in layers.items():
        for k, unit in enumerate(record["units"]):
            what = f"{layer_id} unit {k}"
            index, value = np.array(unit["test"]), np.array(unit["value"], dtype=np.float64)
            truth = oracle[layer_id][:, k]
            tolerance = 2e-5 * max(1.0, float(np.abs(truth).max()))
            assert len(set(index)) == COUNT and np.all(np.diff(value) <= 0), what
            assert np.abs(truth[index] - value).max() <= tolerance, f"{what}: values are not the network's"
            others = truth.copy()
            others[index] = -np.inf
            assert others.max() <= value[-1] + tolerance, f"{what}: image {np.argmax(others)} scores higher"
            if value[-1] == 0:  # a ReLU that is 0 for many images: the lowest indices among them
                tied = np.flatnonzero(value == 0)
                zeros = np.setdiff1d(np.flatnonzero(truth == 0), index[value > 0])
                assert index[tied].tolist() == zeros[:len(tied)].tolist(), f"{what}: ties not by index"
            assert (truth > value[-1] + tolerance).sum() < COUNT <= unit["at_least"] \
                <= (truth >= value[-1] - tolerance).sum(), f"{what}: {unit['at_least']} images reach the ninth"
            assert [split.labels[i].item() for i in index] == unit["label"], what
            own = np.lexsort((np.arange(len(truth)), -truth))[:COUNT]
            same_order += own.tolist() == index.tolist()
    check_positions(layers, split, steps, state, normalisation)
    return same_order


def check_positions(layers, split, steps, state, normalisation):
    """A map example's position holds its channel's maximum for that image."""
    shown = sorted({i for record in layers.values() if record["kind"] == "map"
                    for unit in record["units"] for i in unit["test"]})
    with torch.no_grad():
        outputs = forward(steps, state, normalised(split.images[shown], **normalisation))
    row_of = {i: n for n, i in enumerate(shown)}
    for layer_id, record in layers.items():
        if record["kind"] != "map":
            continue
        for k, unit in enumerate(record["units"]):
            for i, (r, c), value in zip(unit["test"], unit["position"], unit["value"]):
                assert abs(float(outputs[layer_id][row_of[i], k, r, c]) - value) <= 2e-5 * max(1, abs(value)), \
                    f"{layer_id} unit {k}: image {i} at {(r, c)}"


def check_crops(layers, split, model):
    """Each map tile is the test image cut at the unit's receptive field found by autograd
    (oracle.depends_on), 0 outside the image; each vector tile is the whole test image."""
    mask_of = depends_on(model)
    field_at = lru_cache(maxsize=None)(lambda layer_id, r, c: rectangle(mask_of(layer_id, r, c)))
    images = split.images.numpy()[:, 0]  # FashionMNIST's one channel: (N, H, W)
    for layer_id, record in layers.items():
        h, w = record["tile"]
        if record["kind"] == "vector":
            for unit, tiles in zip(record["units"], record["pixels"]):
                assert np.array_equal(tiles, images[unit["test"]]), f"{layer_id}: not the whole test images"
            continue
        size, jump, start = field_geometry(mask_of, layer_id, record["shape"][1])
        assert (h, w) == (size, size), f"{layer_id}: tiles of {h} × {w}, the field is {size} × {size}"
        for unit, tiles in zip(record["units"], record["pixels"]):
            for i, (r, c), box, origin, tile in zip(unit["test"], unit["position"], unit["box"], unit["origin"],
                                                    tiles):
                top, bottom, left, right = field_at(layer_id, r, c)
                assert box == [top, left, bottom + 1, right + 1], f"{layer_id} ({r}, {c}): box {box}"
                assert origin == [start + r * jump, start + c * jump], f"{layer_id} ({r}, {c}): origin {origin}"
                expected = np.zeros((h, w), dtype=np.uint8)
                expected[top - origin[0]:bottom + 1 - origin[0], left - origin[1]:right + 1 - origin[1]] = \
                    images[i, top:bottom + 1, left:right + 1]
                assert np.array_equal(tile, expected), f"{layer_id} ({r}, {c}) of image {i}: not its field"


# --- the committed model ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def committed(site):
    return published(site)


@pytest.fixture(scope="module")
def oracle_scores(committed, fashion_test_split):
    network, _, layers = committed
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    return scores(FASHION_CNN, state, fashion_test_split.images, network["normalisation"], list(layers))


def test_every_channel_and_hidden_unit_has_examples(committed):
    """Maps before the flatten by channel, vectors after it but the output by unit, as the article's
    network is written in the oracle (not read from the builder)."""
    _, index, layers = committed
    names = [name for name, _, _ in FASHION_CNN]
    flatten = names.index("flatten")
    assert [entry["id"] for entry in index["layers"]] == names[:flatten] + names[flatten + 1:-1]
    assert index["available"] and index["count"] == COUNT and index["images"] == 10000
    for record in layers.values():
        assert len(record["units"]) == record["shape"][0]
        assert record["kind"] == ("map" if len(record["shape"]) == 3 else "vector")


def test_the_published_examples_are_the_true_top_nine(committed, oracle_scores, fashion_test_split):
    network, _, layers = committed
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    same = check_top_nine(layers, oracle_scores, fashion_test_split, FASHION_CNN, state, network["normalisation"])
    units = sum(len(record["units"]) for record in layers.values())
    print(f"{same} of {units} units list exactly the float64 oracle's top 9 in its order")
    assert same >= 0.9 * units


def test_crops_are_the_units_receptive_fields(committed, fashion_test_split):
    _, _, layers = committed
    check_crops(layers, fashion_test_split, FashionCNN())


def test_every_published_file_is_named_by_a_contract_pattern(site, site_url, committed):
    """The examples' and optimised images' folders hold exactly the files the contract's patterns name."""
    _, index, layers = committed
    optimised = json.loads((site / site_url("featurevis")).read_text(encoding="utf-8"))
    expected = {site_url("examples"), site_url("featurevis")}
    for layer_id, record in layers.items():
        expected.add(site_url("examples_layer", layer=layer_id))
        expected |= {site_url("examples_atlas", layer=layer_id, part=part) for part in range(len(record["atlases"]))}
    expected |= {site_url("featurevis_atlas", layer=layer["id"]) for layer in optimised["layers"]}
    folders = {Path(path).parts[0] for path in expected}
    assert not folders & {"data", "frames", "charts"}, "test_build_stages checks those folders"
    found = {p.relative_to(site).as_posix() for folder in folders for p in (site / folder).rglob("*") if p.is_file()}
    assert found == expected


def test_the_committed_file_is_what_the_command_computes(tmp_path):
    """`layerwise examples` on a copy of the committed checkpoint writes the committed file's bytes,
    within the time budget, and the file is small and names these weights."""
    import hashlib
    from model import examples_file
    checkpoint = tmp_path / CHECKPOINT.name
    shutil.copy(CHECKPOINT, checkpoint)
    shutil.copy(METRICS, checkpoint.with_suffix(".json"))
    process = run_cli("examples", "--checkpoint", checkpoint)
    assert process.returncode == 0, process.stderr
    seconds = float(re.search(r"in ([\d.]+) s", process.stdout).group(1))
    print(process.stdout.strip())
    assert seconds <= 30
    assert EXAMPLES.stat().st_size <= 2_000_000
    assert examples_file.read(EXAMPLES).meta["weights_sha256"] == hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest(), \
        "model/cnn.examples.npz is stale: run 'python -m builder examples'"
    assert (tmp_path / EXAMPLES.name).read_bytes() == EXAMPLES.read_bytes()


def test_examples_of_other_weights_are_refused_in_one_line(make_content, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    state = torch.load(CHECKPOINT, weights_only=True)
    state["conv1.bias"] = state["conv1.bias"] + 1.0
    torch.save(state, folder / "cnn.pt")
    metrics = json.loads(METRICS.read_text(encoding="utf-8"))
    metrics.pop("weights_sha256")  # these metrics describe other weights; say nothing about which
    (folder / "cnn.json").write_text(json.dumps(metrics), encoding="utf-8")
    shutil.copy(EXAMPLES, folder / EXAMPLES.name)
    article = make_content("![Maps](layer:conv1)\n", checkpoint=folder / "cnn.pt")

    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site")

    assert process.returncode == 1 and process.stderr.count("\n") == 1 and "Traceback" not in process.stderr
    assert process.stderr.startswith(f"error: {folder / EXAMPLES.name}: these dataset examples were computed for "
                                     "other weights")
    assert f"layerwise examples --model model.cnn:FashionCNN --checkpoint {folder / 'cnn.pt'}" in process.stderr
    assert not (tmp_path / "site").exists()


def test_a_checkpoint_without_examples_builds_and_says_so(make_content, tmp_path):
    folder = tmp_path / "model"
    copy_checkpoint(folder)
    article = make_content("![Maps](layer:conv1)\n", checkpoint=folder / "cnn.pt")

    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site", "--strict")

    assert process.returncode == 0, process.stderr
    site, url = tmp_path / "site", urls_of(tmp_path / "site")
    index = json.loads((site / url("examples")).read_text(encoding="utf-8"))
    assert index["available"] is False and index["layers"] == []
    assert index["file"] == (folder / EXAMPLES.name).as_posix() and "layerwise examples" in index["command"]
    assert not (site / url("examples_layer", layer="conv1")).exists()
    optimised = json.loads((site / url("featurevis")).read_text(encoding="utf-8"))
    assert [layer["best_example"] for layer in optimised["layers"]] == [None, None]


# --- authors' models -------------------------------------------------------------------------------

def test_an_authors_model_gets_the_true_top_nine_and_its_fields(tmp_path, fashion_test_split):
    """tests/models/threeconv.py (a 5 × 5 kernel, a convolution without padding, average pooling,
    dropout): trained briefly, its examples computed by the command, built, and checked like the
    committed model's."""
    checkpoint = tmp_path / "threeconv.pt"
    spec = "tests.models.threeconv:ThreeConv"
    process = run_cli("train", "--model", spec, "--checkpoint", checkpoint, "--epochs", "1", "--max-steps", "15",
                      "--train-subset", "2048")
    assert process.returncode == 0, process.stderr
    process = run_cli("examples", "--model", spec, "--checkpoint", checkpoint)
    assert process.returncode == 0, process.stderr
    content = tmp_path / "content"
    (content / "inputs").mkdir(parents=True)
    shutil.copy(sorted((CONTENT / "inputs").glob("*.png"))[0], content / "inputs")
    (content / "article.md").write_text(f"---\nmodel: {spec}\ncheckpoint: {checkpoint}\n---\n\n"
                                        "{{ summary_table }}\n", encoding="utf-8")
    process = run_cli("build", "--content", content, "--out", tmp_path / "site")
    assert process.returncode == 0, process.stderr

    from tests.models.threeconv import ThreeConv
    network, _, layers = published(tmp_path / "site")
    assert list(layers) == ["edges", "act1", "shrink1", "parts", "act2", "shrink2", "whole", "act3"]
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    steps = steps_of(ThreeConv())
    oracle = scores(steps, state, fashion_test_split.images, network["normalisation"], list(layers))
    check_top_nine(layers, oracle, fashion_test_split, steps, state, network["normalisation"])
    check_crops(layers, fashion_test_split, ThreeConv())


STYLES = {  # the layers each of tests/models/styles.py's models should have examples for, in order
    "Nested": ["features.0", "features.1", "features.2", "features.3", "features.4", "features.5", "features.6",
               "pool"],
    "Residual": ["conv1", "relu1", "conv2", "add", "relu2", "pool"],
    "LeNet": ["c1", "tanh", "s2", "c3", "tanh_1", "s4", "f5", "tanh_2", "f6", "tanh_3"],
}


@pytest.mark.parametrize("name", list(STYLES))
def test_every_style_of_model_gets_examples_and_optimised_images(name, trained_style, fashion_test_split, tmp_path):
    """Batch norm, adaptive pooling and dotted ids; a residual sum; tanh, average pooling and
    view(): the examples of the first 2,000 test images, published in order, ranked, one tile
    per example of the field's size, and an optimised image for every convolution channel."""
    from builder import examples, featurevis, network as nets
    trained = trained_style(name)
    net = nets.load(f"tests.models.styles:{name}", trained.checkpoint, trained.checkpoint.with_suffix(".json"))
    found = examples.compute(net, fashion_test_split.images[:2000].numpy(), fashion_test_split.labels[:2000].numpy())
    site = tmp_path / "site"
    examples.publish(site, net, found)
    featurevis.publish(site, net, found)

    index = json.loads((site / contract_url("examples")).read_text(encoding="utf-8"))
    assert [entry["id"] for entry in index["layers"]] == STYLES[name]
    for entry in index["layers"]:
        record = json.loads((site / contract_url("examples_layer", layer=entry["id"])).read_text(encoding="utf-8"))
        for unit in record["units"]:
            assert len(set(unit["test"])) == COUNT and all(np.diff(unit["value"]) <= 0)
            assert max(unit["test"]) < 2000
        if entry["field"]:
            assert entry["tile"] == entry["field"]["size"]
    convolutions = [layer.id for layer in net.layers if layer.type == "Conv2d"]
    optimised = json.loads((site / contract_url("featurevis")).read_text(encoding="utf-8"))
    assert [layer["id"] for layer in optimised["layers"]] == convolutions
    for layer in optimised["layers"]:
        assert len(layer["value"]) == layer["channels"] == len(layer["best_example"])
