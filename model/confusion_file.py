"""The test images behind each cell of the confusion matrix, kept beside the checkpoint.

    layerwise confusion                      # model/cnn.pt → model/cnn.confusion.npz
    layerwise confusion --checkpoint my.pt   # my.pt → my.confusion.npz

The page lets a reader open a cell of the confusion matrix (true class by
row, predicted class by column) and send any of its images through the
network. The build must not need the dataset, so the images are computed
once from the test set and committed: every image the network gets wrong,
and the first few of each class it gets right. The file names the sha256
of the checkpoint it was made with; the build refuses it for other weights.

The file is a zip of .npy arrays: indices int32 (M,) the test indices kept, in test-set order;
labels and predicted uint8 (M,); counts int32 (classes, classes), true class by row; pixels uint8
(M, H, W) for images of one channel, (M, C, H, W) for C channels (channel first, as the dataset
holds them: model.data); checkpoint_sha256.
"""
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

RIGHT_PER_CLASS = 24   # images kept of each diagonal cell, in test-set order; every mistake is kept
SUFFIX = ".confusion.npz"


def path_for(checkpoint):
    """The confusion file that belongs to `checkpoint`: its name with SUFFIX."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + SUFFIX)


def predict(model, x, batch_size=1000):
    """The class the model gives each of the normalised images `x`: a tensor (N, C, H, W), run
    `batch_size` at a time, or an iterable of such batches (a split streamed from disk)."""
    import torch  # here, so that the build can name this file without importing PyTorch
    model.eval()
    batches = (x[i:i + batch_size] for i in range(0, len(x), batch_size)) if isinstance(x, torch.Tensor) else x
    with torch.no_grad():
        return torch.cat([model(batch).argmax(1).cpu() for batch in batches]).numpy()


def compute(images, labels, predicted, checkpoint_sha256, classes):
    """The record to keep: uint8 `images` (N, C, H, W), or (N, H, W) for one channel, with their
    `labels` and `predicted` classes, of `classes` classes (a number). `images` is indexed once, by
    the indices kept, so it may be a lazy sequence (model.data's Split.images)."""
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    right = labels == predicted
    first_right = np.zeros(len(labels), dtype=bool)
    for c in range(classes):
        first_right[np.flatnonzero(right & (labels == c))[:RIGHT_PER_CLASS]] = True
    kept = np.flatnonzero(~right | first_right)  # in test-set order
    pixels = np.asarray(images[kept.tolist()] if len(kept) else images[:0], dtype=np.uint8)
    if pixels.ndim == 4 and pixels.shape[1] == 1:  # one channel: stored as before colour, (M, H, W)
        pixels = pixels[:, 0]
    return dict(indices=kept.astype(np.int32), labels=labels[kept].astype(np.uint8),
                predicted=predicted[kept].astype(np.uint8), pixels=pixels,
                counts=counts.astype(np.int32), checkpoint_sha256=np.array(checkpoint_sha256))


def write(path, record):
    """Save `record` as a compressed .npz whose bytes depend only on its contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(record):
            array = io.BytesIO()
            np.save(array, record[name], allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy"), array.getvalue(), zipfile.ZIP_DEFLATED)
    Path(path).write_bytes(buffer.getvalue())


def read(path):
    """The record saved at `path`, as plain arrays and the checkpoint's sha256 as a str."""
    with np.load(path, allow_pickle=False) as saved:
        record = {name: saved[name] for name in saved.files}
    record["checkpoint_sha256"] = str(record["checkpoint_sha256"])
    return record


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
