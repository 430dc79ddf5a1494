"""Dataset examples: the test images that excite each channel and unit most, computed once per
checkpoint into a committed file (model/examples_file.py) and published by the build.

    layerwise examples [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt] [--data DIR]

The command needs the test split of the dataset the checkpoint was trained on (its metrics
name it) and writes the checkpoint's examples file
(model/cnn.examples.npz, builder.companions); the build needs only that file.
A build refuses a file made for other weights, and without a file publishes
an index saying there are none. Which layers get examples is derived from the traced model:
every map but the input (by channel), and every vector a Linear layer
computes or that is computed from one element-wise (by unit), but the output;
a flattened map's units are cells of that map, whose channels have theirs.

Published (the URL patterns are builder.contract's):

    examples/index.json                {available, file, weights_sha256, source, images, count, classes,
                                        scoring, layers: [{id, kind, units, tile: [h, w], field}]};
                                        without a file: {available: false, file, reason, command, layers: []}
    examples/layers/<layer>.json       {layer, kind, count, tile: [h, w], atlases: [[width, height], …],
                                        classes, units: [{test, label, value, atlas, tiles, and for maps
                                        position, origin, box}, …]}
    examples/layers/<layer>/<part>.png atlas `part`: one row per unit, its examples best first from
                                        the left; the pixels as in the dataset (0 = background): an
                                        8-bit grayscale PNG for one channel, an RGB PNG for three

`kind` is "map" (a unit is a channel, its tiles are crops of its receptive field, `field` gives
its size, jump and start along each axis) or "vector" (a unit is one value, its tiles whole
images). Per unit, `atlas` is the part its tiles are in, `at_least` how many test images score at
least its ninth value, and every other field is a list over its examples, best first: `test` the
test index, `label` the true class (an index into `classes`), `value` the score (float32,
exactly), `tiles` [x, y] of the tile's top-left corner in its atlas; for maps `position` [row, col]
of the maximum in the map, `origin` [top, left] of the receptive field in the image (negative
where it starts outside: a tile is always the whole field, 0 outside the image) and `box` [top,
left, bottom, right] of the field clipped to the image (bottom and right exclusive); a tile of a
colour image holds its three channels (black outside the image in each). When
`at_least` is more than 9, other images tie with the ninth and the nine are the lowest test
indices among them: a ReLU that is 0 on every test image (at_least the test set's size) has no real examples,
nor has a first-layer channel whose best is a patch that many images contain (all white).
"""
import copy
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from builder import companions, graph
from builder.contract import dataset_name, url
from builder.datafiles import exact
from model import examples_file
from model.data import as_input

SCORING = {"map": "the channel's maximum over positions, at the first position that reaches it",
           "vector": "the unit's value"}
TIES = "equal scores keep the lower test index first"
ATLAS_PIXELS = 1 << 17  # about 70 KB of grayscale PNG: 18 units of nine 28 × 28 images, or a whole map layer


def specs(layers):
    """The layers whose units get examples, as model.examples_file.Spec, from builder.layers.Layer."""
    computed = {}  # layer id → whether a Linear layer computes it, directly or element-wise
    chosen = []
    for layer in layers:
        computed[layer.id] = layer.type == "Linear" or (
            layer.type != "Flatten" and any(computed.get(i, False) for i in layer.inputs))
        if layer.type == "Input" or layer is layers[-1]:
            continue
        if layer.spatial or computed[layer.id]:
            chosen.append(spec_of(layer))
    return chosen


def spec_of(layer):
    """A builder.layers.Layer as model.examples_file.Spec: its id, shape and receptive field."""
    field = layer.receptive
    return examples_file.Spec(layer.id, tuple(layer.shape),
                              None if field is None else (field.size, field.jump, field.start))


def source(network):
    """What the examples are drawn from, in words: "FashionMNIST test set" (a folder by its last part,
    so that no author's own path is published)."""
    return f"{dataset_name(network.dataset)} test set"


def compute(network, images, labels, device="cpu"):
    """The Examples of `network` (builder.network.Network) over uint8 images (N, C, H, W) and their
    labels, run on `device` ("cpu", "cuda"); `images` may be a lazy sequence read from disk
    (model.examples_file.compute), which gets a progress bar."""
    meta = dict(checkpoint=Path(network.checkpoint).name, weights_sha256=network.weights_sha256,
                normalisation=network.metrics["normalisation"],  # as the metrics say it: numbers before colour
                model=network.name, source=source(network))
    streamed = not isinstance(images, (np.ndarray, torch.Tensor))
    with graph._one_thread():  # the same float sums on any machine, and here faster than two threads
        return examples_file.compute(images, labels, specs(network.layers), _outputs_of(network, device), meta,
                                     desc="dataset examples" if streamed else None)


def _outputs_of(network, device="cpu"):
    """A function from a uint8 batch to the outputs of its layers, run by the traced graph on `device`."""
    nodes = {op.id: op.node for op in network.traced.ops}
    module = network.traced.graph_module
    if torch.device(device).type != "cpu":  # a copy: the build's network stays on the CPU
        module = copy.deepcopy(module).to(device)

    def outputs_of(batch):
        with torch.no_grad():
            outputs = graph.run(module, as_input(batch, **network.normalisation).to(device))
        return {layer: outputs[node].cpu().numpy() for layer, node in nodes.items()}
    return outputs_of


def publish(site, network, found):
    """Write the examples index, and each layer's units and atlas when the checkpoint has an
    examples file (`found`, its Examples as builder.companions loads them, or None)."""
    site = Path(site)
    if found is None:
        path = examples_file.path_for(network.checkpoint)
        _dump(site / url("examples"), dict(
            available=False, file=path.as_posix(), layers=[], command=companions.command("examples", network),
            reason=f"{path.as_posix()} does not exist: no dataset examples were computed for these weights"))
        return
    entries = []
    for layer in found.meta["layers"]:
        record, atlases = _layer(found, layer, network.classes)
        _dump(site / url("examples_layer", layer=layer["id"]), record)
        for part, atlas in enumerate(atlases):
            save_pixels(site / url("examples_atlas", layer=layer["id"], part=part), atlas)
        entries.append(dict(id=layer["id"], kind=layer["kind"], units=len(record["units"]), tile=record["tile"],
                            field=None if layer["field"] is None else dict(zip(("size", "jump", "start"),
                                                                               layer["field"]))))
    meta = found.meta
    _dump(site / url("examples"), dict(
        available=True, file=examples_file.path_for(network.checkpoint).as_posix(),
        weights_sha256=meta["weights_sha256"], source=meta["source"], images=meta["images"], count=meta["count"],
        classes=network.classes, scoring=dict(SCORING, ties=TIES), layers=entries))


def best(found, layer_id):
    """Each unit's best score in `layer_id` (a list), or None when there are no examples for it."""
    if found is None or f"{layer_id}/value" not in found.arrays:
        return None
    return found.layer(layer_id, "value")[:, 0]


def _layer(found, layer, classes):
    """One layer's record (examples/layers/<layer>.json) and its atlases: one row per unit, the
    units split into atlases of at most ATLAS_PIXELS, so showing one unit fetches one small image."""
    index, label, value, at_least = (found.layer(layer["id"], name) for name in ("index", "label", "value",
                                                                                 "at_least"))
    if layer["kind"] == "map":
        tiles = found.crops(layer["id"])
    else:
        tiles = np.stack([[found.image(i) for i in row] for row in index])
    units, count, channels, h, w = tiles.shape
    rows = max(1, ATLAS_PIXELS // (count * h * w))  # units per atlas
    sheet = tiles.transpose(0, 3, 1, 4, 2).reshape(units * h, count * w, channels)  # (rows, columns, channels)
    atlases = [sheet[start * h:(start + rows) * h] for start in range(0, units, rows)]
    records = []
    for unit in range(units):
        record = dict(test=index[unit].tolist(), label=label[unit].tolist(), value=exact(value[unit]),
                      at_least=int(at_least[unit]), atlas=unit // rows,
                      tiles=[[rank * w, unit % rows * h] for rank in range(count)])
        if layer["kind"] == "map":
            position = found.layer(layer["id"], "position")[unit]
            record.update(position=position.tolist(), box=found.layer(layer["id"], "box")[unit].tolist(),
                          origin=[_origin(layer, r, c, found.meta["image_shape"]) for r, c in position.tolist()])
        records.append(record)
    return dict(layer=layer["id"], kind=layer["kind"], count=count, tile=[h, w],
                atlases=[[atlas.shape[1], atlas.shape[0]] for atlas in atlases], classes=classes,
                units=records), atlases


def save_pixels(path, pixels):
    """Save uint8 pixels (H, W) or (H, W, C) as the dataset stores them, 0 black: an 8-bit grayscale
    PNG for one channel, an RGB PNG for three. Not builder.frames' palette PNGs: these are pixels,
    not values on a colour scale, and zlib's default level makes them smaller than a palette with
    optimize=True, in a sixth of the time. Pillow writes no date, so the same pixels give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB").save(path, compress_level=6)


def _origin(layer, row, col, image_shape):
    """[top, left] of the receptive field of cell (row, col) in the image, unclipped."""
    spec = examples_file.Spec(layer["id"], tuple(layer["shape"]),
                              None if layer["field"] is None else tuple(layer["field"]))
    top, left, _, _ = examples_file.field_box(spec, row, col, image_shape[-2:])
    return [int(top), int(left)]


def _dump(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
