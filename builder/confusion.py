"""Publish the test images behind each cell of the confusion matrix (model/confusion.py keeps them).

    data/confusion.json               the matrix, and per cell the test images the site holds
    data/confusion/<true>-<pred>.u8   those images' pixels: uint8, row-major, one after another

A reader opens a cell and the page fetches that cell's file only, then can
send any of its images through the network. A checkpoint without its
confusion file publishes the matrix alone; a file made for other weights
stops the build.
"""
import json
from pathlib import Path

import numpy as np

from builder.contract import url
from builder.errors import BuildError
from model import confusion


def load(description):
    """The confusion record kept beside the described checkpoint, None if there is none."""
    path = confusion.path_for(description.checkpoint)
    if not path.is_file():
        return None
    try:
        record = confusion.read(path)
    except (OSError, ValueError, KeyError, EOFError) as err:  # EOFError: an empty file
        raise BuildError(f"cannot read the test images of the confusion matrix ({type(err).__name__}: "
                         f"{str(err)[:120]}); {_fix(description)}",
                         path) from None
    if record["checkpoint_sha256"] != description.weights_sha256:
        raise BuildError(f"these test images were chosen by other weights (sha256 "
                         f"{record['checkpoint_sha256'][:12]}…, the checkpoint's is "
                         f"{description.weights_sha256[:12]}…); {_fix(description)}", path)
    return record


def _fix(description):
    return f"recompute them with 'layerwise confusion --model {description.name} --checkpoint {description.checkpoint}'"


def index(record, classes):
    """data/confusion.json: the counts, and per cell "true-predicted" the test indices held."""
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
