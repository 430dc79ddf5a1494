"""Publish the dataset's test images, so that a reader can make any of them the input ('#input=test.777').

    data/tests.json       {"total": images in the test split, "count": how many are published, "chunk":
                          images per file, "shape": one image's [C, H, W], "cap": CAP, "labels": the
                          published images' labels, in order}
    data/tests/<n>.u8     images n × chunk to (n + 1) × chunk − 1: uint8, one after another, each C × H × W
                          bytes, channel by channel, each channel row by row (as data/confusion/*.u8)

The page fetches only the file that holds the image asked for (static/confusion.js). A file holds the
largest power of ten of images that fits in CHUNK bytes (100 of FashionMNIST's), and at most CAP bytes
of pixels are published, the first images of the split in whole files: all of FashionMNIST's 10,000
(7.8 MB); of a larger set only the first, and the page says so when one past them is asked for. A
build that cannot read the dataset, or whose dataset's images are not the network's input, publishes
none (the confusion matrix's images are still there).
"""
import json
from pathlib import Path

import numpy as np

from builder.contract import url

CAP = 10_000_000   # bytes of pixels published at most
CHUNK = 100_000    # bytes of pixels a file holds at most (unless one image is larger)


def chunk_size(shape):
    """How many images of `shape` one file holds: the largest power of ten that fits in CHUNK bytes, or 1."""
    size, images = int(np.prod(shape)), 1
    while images * 10 * size <= CHUNK:
        images *= 10
    return images


def published(total, shape):
    """How many of `total` images of `shape` fit in CAP bytes, in whole files (all, when they do)."""
    size, chunk = int(np.prod(shape)), chunk_size(shape)
    return min(total, max(0, CAP // (size * chunk)) * chunk)


def write(site, split, shape):
    """Write data/tests.json and its files from `split` (model.data.Split), whose images are uint8 (N, C, H, W)
    of `shape` (the network's input); nothing when `split` is None. Return whether it wrote them."""
    if split is None:
        return False
    import torch  # the split's images are indexed as model.data indexes them
    site, total, chunk = Path(site), len(split), chunk_size(shape)
    count = published(total, shape)
    for first in range(0, count, chunk):
        images = np.asarray(split.images[torch.arange(first, min(first + chunk, count))], dtype=np.uint8)
        path = site / url("test_chunk", chunk=first // chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(np.ascontiguousarray(images.reshape(-1, *shape)).tobytes())
    labels = [int(label) for label in np.asarray(split.labels[:count])]
    entry = dict(total=total, count=count, chunk=chunk, shape=list(shape), cap=CAP, labels=labels)
    path = site / url("tests")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, separators=(",", ":")) + "\n", encoding="utf-8")
    return True


def read_split(dataset, data_dir=None):
    """The test split of `dataset` (builder.layers.Description.dataset), or None when it cannot be read
    here or its images are not the network's input."""
    from model import data
    try:
        split = data.load("test", data_dir, spec=dataset["spec"])
    except (data.DataNotFound, data.BadDataset):
        return None
    if list(split.images[:1].shape[1:]) != list(dataset["input_shape"]):
        return None
    return split
