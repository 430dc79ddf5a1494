"""Publish the test images behind each cell of the confusion matrix (model/confusion_file.py keeps them).

    data/confusion.json               the matrix, `shape` of one image, and per cell the test images
                                      the site holds
    data/confusion/<true>-<pred>.u8   those images' pixels: uint8, one image after another, each
                                      C × H × W bytes, channel by channel (all of red, then green,
                                      then blue), each channel row by row; `shape` is [H, W] for
                                      one channel (as before colour) and [C, H, W] for more

A reader opens a cell and the page fetches that cell's file only, then can
send any of its images through the network. A checkpoint without its
confusion file publishes the matrix alone (builder.companions loads it,
and refuses one made for other weights).
"""
import json
from pathlib import Path

import numpy as np

from builder.contract import url


def index(record, classes):
    """data/confusion.json: the counts, one image's shape ([H, W] for one channel, [C, H, W] for more),
    and per cell "true-predicted" the test indices held."""
    cells = {}
    if record is not None:
        for true, predicted in sorted({(int(t), int(p)) for t, p in zip(record["labels"], record["predicted"])}):
            held = (record["labels"] == true) & (record["predicted"] == predicted)
            cells[f"{true}-{predicted}"] = [int(i) for i in record["indices"][held]]
    counts = record["counts"].tolist() if record is not None else None
    shape = list(record["pixels"].shape[1:]) if record is not None else None
    return dict(classes=list(classes), counts=counts, shape=shape, cells=cells)


def write(site, record, classes):
    """Write data/confusion.json and one pixel file per cell that holds images."""
    site = Path(site)
    entry = index(record, classes)
    for cell in entry["cells"]:
        true, predicted = map(int, cell.split("-"))
        held = (record["labels"] == true) & (record["predicted"] == predicted)
        path = site / url("confusion_cell", true=true, predicted=predicted)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(np.ascontiguousarray(record["pixels"][held], dtype=np.uint8).tobytes())
    path = site / url("confusion")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, separators=(",", ":")) + "\n", encoding="utf-8")
