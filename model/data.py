"""Find FashionMNIST on this machine and load it as whole tensors.

Places are tried in order, and the first that works wins:

1. the folder given with `--data DIR`;
2. the folder in the environment variable `LAYERWISE_DATA`;
3. the repository's own cache, `.cache/data/` (git-ignored);
4. Debian's package `dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist/`,
   whose files are unpacked into the cache once (torchvision rejects the
   recompressed .gz files, but accepts the raw ones);
5. torchvision's own download into the cache.

Each DIR is a torchvision root: it holds `FashionMNIST/raw/` with the four
original IDX files (or their .gz).
"""
import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "data"
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "LAYERWISE_DATA"
IMAGE_SHAPE = (1, 28, 28)  # one FashionMNIST image as a network sees it: channels, height, width
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataNotFound(Exception):
    """No place held FashionMNIST; the message lists every way to provide it."""


@dataclass
class Split:
    """One split as uint8 images (N, 28, 28) and int64 labels (N,)."""
    images: torch.Tensor
    labels: torch.Tensor


def load(split, data_dir=None):
    """Return the 'train' or 'test' split, looking in the places above."""
    tried = []
    for root in _candidate_roots(data_dir):
        try:
            return _load_from(root, split, download=False)
        except (RuntimeError, OSError) as err:
            tried.append(f"{root} ({_first_line(err)})")
    if _unpack_debian():
        return _load_from(CACHE, split, download=False)
    try:
        return _load_from(CACHE, split, download=True)
    except Exception as err:  # torchvision raises several types when offline
        tried.append(f"download into {CACHE} ({_first_line(err)})")
    raise DataNotFound(
        "FashionMNIST not found; provide it in one of these ways: "
        f"pass --data DIR, set {ENV_VAR}=DIR (DIR holds FashionMNIST/raw/), "
        f"put the files in {CACHE}/FashionMNIST/raw/, "
        "apt-get install dataset-fashion-mnist, or allow torchvision to download it. "
        "Tried: " + "; ".join(tried))


def classes():
    """The dataset's class names, in label order."""
    from torchvision.datasets import FashionMNIST
    return list(FashionMNIST.classes)


def as_input(images, mean, std):
    """uint8 images (N, H, W) → the normalised float tensor (N, 1, H, W) a network sees."""
    return torch.as_tensor(images).float().div(255).sub(mean).div(std).unsqueeze(1)


def _candidate_roots(data_dir):
    if data_dir:
        yield Path(data_dir)
    if os.environ.get(ENV_VAR):
        yield Path(os.environ[ENV_VAR])
    yield CACHE


def _load_from(root, split, download):
    from torchvision.datasets import FashionMNIST
    ds = FashionMNIST(str(root), train=(split == "train"), download=download)
    return Split(ds.data, ds.targets)


def _unpack_debian():
    """Unpack Debian's .gz files into the cache; return whether it worked."""
    if not all((DEBIAN / f"{name}.gz").is_file() for name in RAW_FILES):
        return False
    raw = CACHE / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        part = raw / f"{name}.part"
        with gzip.open(DEBIAN / f"{name}.gz", "rb") as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst)
        part.replace(raw / name)  # a reader never sees half a file
    return True


def _first_line(err):
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
