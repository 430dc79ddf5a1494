"""The examples file: for every unit a reader may ask about, the test images that excite it most.

    layerwise examples                                   # model/cnn.pt → model/cnn.examples.npz
    layerwise examples --model M --checkpoint F [--data DIR]

The builder (builder/examples.py) says which layers count and runs the network;
this module only scores, ranks, cuts and stores, with numpy (no PyTorch, no
HTML), so a build can find and check the file without importing PyTorch.

Scoring: a channel of a map scores an image by its maximum over positions (the
first position in row-major order that reaches it is kept); a unit of a vector
by its value. The `COUNT` best images of all those given are kept per unit,
highest score first; equal scores keep the lower test index first.

The file is a zip of .npy arrays (numpy's .npz, read with `numpy.load`), written
with fixed dates, so the same weights give the same bytes:

    meta                    a JSON string: format, checkpoint (file name), weights_sha256,
                            normalisation {mean, std}, model, source, images (how many were
                            scored), count, image_shape ([H, W] for one channel, [C, H, W] for
                            more), and layers, in the model's order:
                            [{id, kind: "map" | "vector", shape, field: [size, jump, start] | null}],
                            each of size, jump and start a pair [rows, columns]
    <layer>/index           int32 (units, count): test indices, best first
    <layer>/label           int16 (units, count): their true classes
    <layer>/value           float32 (units, count): their scores, as the network computed them
    <layer>/at_least        int32 (units,): how many images score at least the last of them; more
                            than count when others tie with it (a ReLU that is 0 on every image)
  maps only:
    <layer>/position        int16 (units, count, 2): (row, col) in the map where the maximum is
    <layer>/box             int16 (units, count, 4): (top, left, bottom, right) of the receptive field
                            at that position, in image pixels, clipped to the image (bottom and
                            right exclusive)
    <layer>/crop            uint8 (units, count, S_h, S_w), or (units, count, C, S_h, S_w) for C
                            channels: the field's pixels, its size; the field's top-left corner is
                            at (start[0] + row·jump[0], start[1] + col·jump[1]), and what lies
                            outside the image is 0, the background (black in every channel)
  vectors use whole images, stored once:
    images                  uint8 (M, H, W), or (M, C, H, W) for C channels: every test image a
                            vector layer's unit names
    images/index            int32 (M,): their test indices, ascending

A layer whose cells do not see evenly spaced windows (field null) is cropped to the whole image.
Images of one channel are stored without a channel axis, as before colour (the same weights give
the same bytes as then); images of C channels keep theirs, channel first, as the dataset holds them
(model.data: uint8 (N, C, H, W)). Examples.crops() and Examples.image() give (…, C, H, W) either way.
"""
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COUNT = 9          # images per unit, a 3 × 3 grid on the page
BATCH = 100        # test images run at once: larger batches spend more time page-faulting fresh memory
FORMAT = 2  # 2: receptive fields per axis
SUFFIX = ".examples.npz"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: no timestamps in the bytes


def path_for(checkpoint):
    """The examples file that goes with a checkpoint: model/cnn.pt → model/cnn.examples.npz."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + SUFFIX)


@dataclass
class Spec:
    """A layer whose units get examples: its id, one image's output shape, and for a map the
    (size, jump, start) of its receptive field, each a pair (rows, columns), or None when it has none."""
    id: str
    shape: tuple
    field: tuple = None

    @property
    def kind(self):
        return "map" if len(self.shape) == 3 else "vector"


@dataclass
class Examples:
    """The contents of an examples file: `meta` (see the module's docstring) and its arrays by name."""
    meta: dict
    arrays: dict = field(default_factory=dict)

    def layer(self, layer_id, name):
        return self.arrays[f"{layer_id}/{name}"]

    @property
    def channels(self):
        """The images' channels: 1 (grayscale) or 3 (RGB)."""
        shape = self.meta["image_shape"]
        return shape[0] if len(shape) == 3 else 1

    def crops(self, layer_id):
        """A map layer's crops as (units, count, C, S_h, S_w), whatever the channels."""
        crops = self.layer(layer_id, "crop")
        return crops[:, :, None] if crops.ndim == 4 else crops

    def image(self, test_index):
        """A whole test image that a vector unit names, (C, H, W)."""
        row = int(np.searchsorted(self.arrays["images/index"], test_index))
        image = self.arrays["images"][row]
        return image[None] if image.ndim == 2 else image


def compute(images, labels, specs, outputs_of, meta, count=COUNT, batch=BATCH, desc=None):
    """Score every image of `images` (uint8 (N, C, H, W), or (N, H, W) for one channel, with
    `labels`) for every unit of `specs`: `outputs_of(uint8 batch (n, C, H, W))` returns {layer id:
    float32 array (n, *shape)}. `images` is read a batch at a time and then at the indices kept, so
    it may be any sequence that slicing and a list of indices index (model.data's Split.images, a
    lazy folder too large for memory among them), under a progress bar named `desc` when given.
    `meta` is recorded as given, completed with what the computation knows."""
    from tqdm import tqdm
    labels = np.asarray(labels)
    tops = {spec.id: _Top(count) for spec in specs}
    for start in tqdm(range(0, len(images), batch), desc=desc, unit="batch", disable=desc is None,
                      dynamic_ncols=True):
        outputs = outputs_of(_channelled(images[start:start + batch]))
        for spec in specs:
            tops[spec.id].add(*_scores(np.asarray(outputs[spec.id]), spec), start)
    ranked = {spec.id: tops[spec.id].ranked() for spec in specs}
    needed = sorted({int(i) for value, index, position, at_least in ranked.values() for i in index.ravel()})
    kept = dict(zip(needed, _channelled(images[needed]))) if needed else {}  # one read of the images used
    shape = _channelled(images[:1]).shape[1:]
    arrays, whole = {}, set()
    for spec in specs:
        value, index, position, at_least = ranked[spec.id]
        arrays.update({f"{spec.id}/index": index.astype(np.int32), f"{spec.id}/label": labels[index].astype(np.int16),
                       f"{spec.id}/value": value.astype(np.float32), f"{spec.id}/at_least": at_least.astype(np.int32)})
        if spec.kind == "map":
            arrays.update(_crops(kept, shape, index, position, spec))
        else:
            whole.update(index.ravel().tolist())
    used = np.array(sorted(whole), dtype=np.int32)
    arrays["images/index"] = used
    arrays["images"] = _stored(np.stack([kept[i] for i in used.tolist()]) if len(used) else np.zeros((0, *shape),
                                                                                                      np.uint8))
    meta = dict(meta, format=FORMAT, count=count, images=len(images), image_shape=list(_stored_shape(shape)),
                layers=described(specs))
    return Examples(meta, arrays)


def _channelled(images):
    """uint8 images as (n, C, H, W): (n, H, W) are one channel's."""
    images = np.asarray(images, dtype=np.uint8)
    return images[:, None] if images.ndim == 3 else images


def _stored(array, axis=1):
    """`array` as the file stores it: without its channel axis (`axis`) when that has one channel."""
    return array.squeeze(axis) if array.shape[axis] == 1 else array


def _stored_shape(shape):
    """(H, W) for one channel, (C, H, W) for more: the image shape the file records."""
    return tuple(shape[1:]) if shape[0] == 1 else tuple(shape)


def described(specs):
    """The layers as the file's meta records them."""
    return [dict(id=s.id, kind=s.kind, shape=list(s.shape),
                 field=None if s.field is None else [list(pair) for pair in s.field]) for s in specs]


def cut(image, top, left, height, width):
    """image[..., top:top + height, left:left + width] of an image (…, H, W) (channels first, if
    any), with 0 (the background) where it leaves the image."""
    out = np.zeros((*image.shape[:-2], height, width), dtype=image.dtype)
    rows, cols = image.shape[-2:]
    t, l, b, r = max(top, 0), max(left, 0), min(top + height, rows), min(left + width, cols)
    if t < b and l < r:
        out[..., t - top:b - top, l - left:r - left] = image[..., t:b, l:r]
    return out


def field_box(spec, row, col, image_shape):
    """(top, left, size_h, size_w) of the field of cell (row, col), unclipped; the whole image when
    the layer has no field. `image_shape` ends in (H, W) (a channel count before them is ignored)."""
    if spec.field is None:
        return 0, 0, *image_shape[-2:]
    size, jump, start = spec.field
    return start[0] + row * jump[0], start[1] + col * jump[1], size[0], size[1]


def write(path, found):
    """Write an Examples to `path` (a .npz) with no timestamps: the same contents give the same bytes."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.part")
    entries = {"meta": np.array(json.dumps(found.meta, sort_keys=True, ensure_ascii=False)), **found.arrays}
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in entries.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    partial.replace(path)  # a reader never sees half a file


def read(path):
    """Read an examples file; raises OSError when it cannot be read and ValueError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):  # numpy's, zip's and zlib's ways
        raise ValueError("not a zip of numpy arrays with a 'meta' entry; it is damaged or not an examples file") \
            from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format')} is not {FORMAT}")
    return Examples(meta, arrays)


class _Top:
    """The best `count` (score, test index, position) per unit so far, over batches given in order,
    and every score, to count the images that tie with the last of them."""

    def __init__(self, count):
        self.count, self.value, self.index, self.position, self.scores = count, None, None, None, []

    def add(self, scores, positions, start):
        self.scores.append(scores)
        index = np.broadcast_to(np.arange(start, start + len(scores))[:, None], scores.shape)
        if self.value is not None:
            scores, positions = np.concatenate([self.value, scores]), np.concatenate([self.position, positions])
            index = np.concatenate([self.index, index])
        # Highest score first; equal scores keep the lower test index (lexsort's last key is the first).
        order = np.lexsort((index, -scores.astype(np.float64)), axis=0)[:self.count]
        self.value, self.index, self.position = (np.take_along_axis(a, order, axis=0)
                                                 for a in (scores, index, positions))

    def ranked(self):
        """(value, index, position), each shaped (units, count), and per unit how many images score
        at least its last value."""
        at_least = (np.concatenate(self.scores) >= self.value[-1]).sum(axis=0)
        return self.value.T, self.index.T, self.position.T, at_least


def _scores(outputs, spec):
    """(scores, flat positions), each (n, units): a map's channels by their maximum over positions
    (the first position reaching it), a vector's units by their values."""
    if spec.kind == "vector":
        return outputs, np.zeros(outputs.shape, dtype=np.int64)
    flat = outputs.reshape(*outputs.shape[:2], -1)
    position = flat.argmax(axis=2)
    return np.take_along_axis(flat, position[..., None], axis=2)[..., 0], position


def _crops(images, shape, index, position, spec):
    """Each map example's position (row, col), clipped field box and field pixels; `images` maps a
    test index to its image (C, H, W), of `shape`."""
    width = spec.shape[2]
    height_of_image, width_of_image = shape[-2:]
    rows, cols = np.divmod(position, width)
    boxes, crops = [], []
    for unit in range(index.shape[0]):
        for rank in range(index.shape[1]):
            top, left, h, w = field_box(spec, rows[unit, rank], cols[unit, rank], shape)
            boxes.append([max(top, 0), max(left, 0), min(top + h, height_of_image), min(left + w, width_of_image)])
            crops.append(cut(images[int(index[unit, rank])], top, left, h, w))
    units, count = index.shape
    return {f"{spec.id}/position": np.stack([rows, cols], axis=-1).astype(np.int16),
            f"{spec.id}/box": np.array(boxes, dtype=np.int16).reshape(units, count, 4),
            f"{spec.id}/crop": _stored(np.array(crops, dtype=np.uint8).reshape(units, count, *crops[0].shape), 2)}
