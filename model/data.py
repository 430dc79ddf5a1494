"""The dataset a network learns from, whatever its source, as uint8 images (N, C, H, W) and labels.

    data.open()                            # FashionMNIST, found on this machine as below
    data.open("MNIST", root="~/data")      # a torchvision dataset by name, downloaded where the machine can
    data.open("photos")                    # a folder: photos/train/<class>/*, photos/test/<class>/*
    data.open("custom.data:Leaves")        # an author's class, constructed like a torchvision dataset

A folder follows torchvision's ImageFolder conventions (any format Pillow reads, one subfolder per
class, the same classes in train/ and test/). An author's class is called as torchvision's are,
`Leaves(root=..., train=True, transform=None)` (each keyword only where its signature takes it),
and gives (image, label) pairs, the image a PIL image or a tensor; its classes are its `classes`
attribute, or the labels' numbers. Every image of a dataset has one shape: 1 or 3 channels,
height and width from 16 to 96 pixels; a dataset has from 2 to 100 classes.

A split small enough (MEMORY_LIMIT bytes as float32, or the environment's LAYERWISE_MEMORY_MB) is
held in memory; a larger folder is read from disk batch by batch, with a progress bar. Images with
transparency are laid on white, as a reader's upload is (builder/inputs.py).

FashionMNIST, the default, is looked for in these places, in order; the first that works wins:

1. the folder given with `--data-root DIR`;
2. the folder in the environment variable `LAYERWISE_DATA`;
3. the repository's own cache, `.cache/data/` (git-ignored);
4. Debian's package `dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist/`,
   whose files are unpacked into the cache once (torchvision rejects the
   recompressed .gz files, but accepts the raw ones);
5. torchvision's own download into the cache.

Each DIR is a torchvision root: it holds `FashionMNIST/raw/` with the four
original IDX files (or their .gz). Other torchvision datasets are looked for in
the same roots and downloaded into the first where the machine can.
"""
import functools
import gzip
import importlib
import inspect
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "data"
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR, MEMORY_VAR = "LAYERWISE_DATA", "LAYERWISE_MEMORY_MB"
DEFAULT = "FashionMNIST"
IMAGE_SHAPE = (1, 28, 28)  # one FashionMNIST image as a network sees it: channels, height, width
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MEMORY_LIMIT = 2 << 30        # bytes a split may take in memory as float32 (4 per pixel); larger folders stream
SIDES, CLASSES = (16, 96), (2, 100)
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
# How a reader's upload is made to look like the dataset's images is decided from this many of them.
LOOKED_AT = 1000
# A border darker than DARK is dark; one whose pixels lie within LEVEL of their median, PLAIN of them, is plain.
DARK, LEVEL, PLAIN = 64, 24, 0.75


class DataNotFound(Exception):
    """No place held the dataset; the message lists every way to provide it."""


class BadDataset(Exception):
    """The dataset exists but cannot be used: the message says what is wrong and where."""


@dataclass
class Split:
    """One split: `images` uint8 (N, C, H, W), a tensor or a lazily read sequence indexed the same
    way, and int64 `labels` (N,). `shuffled`: whether the images are stored in random order
    (FashionMNIST's are), so that the first few are a fair sample; a folder is stored class by class."""
    images: object
    labels: torch.Tensor
    shuffled: bool = False

    def __len__(self):
        return len(self.labels)

    def sample(self, n):
        """The indices of n images (all when there are fewer) that stand for the split: the first n
        when it is shuffled, else n spread evenly over it, so that every class is in."""
        n = min(n, len(self))
        return torch.arange(n) if self.shuffled else torch.linspace(0, len(self) - 1, n).round().long()

    def subset(self, n):
        """A Split of n of these images (Split.sample), in their order here."""
        chosen = self.sample(n)
        return Split(self.images[chosen], self.labels[chosen], self.shuffled)

    def batches(self, size, order=None, desc=None):
        """Yield (uint8 images, labels) of `size` images at a time, in `order` (indices) or as stored;
        with `desc`, under a progress bar of that name when the images are read from disk."""
        order = torch.arange(len(self)) if order is None else order
        chunks = order.split(size)
        shown = desc is not None and isinstance(self.images, Files)
        for chunk in tqdm(chunks, desc=desc, unit="batch", disable=not shown, dynamic_ncols=True, leave=False):
            yield self.images[chunk], self.labels[chunk]


class Dataset:
    """A dataset as the network sees it: its `spec` as the author wrote it, `classes` in label
    order, one image's `shape` (C, H, W), and its two splits (split()). A split may be given as a
    function that reads it, called when it is first asked for."""

    def __init__(self, spec, classes, splits, shape=None):
        self.spec, self.classes, self._splits = spec, list(classes), dict(splits)
        self.shape = tuple(shape or self.split("train").images[:1].shape[1:])

    def split(self, name):
        """The 'train' or 'test' split."""
        if callable(self._splits[name]):
            self._splits[name] = self._splits[name]()
        return self._splits[name]

    def normalisation(self):
        """The training images' normalisation_of()."""
        return normalisation_of(self.split("train"))

    def upload_rule(self):
        """How a reader's own image is made to look like this dataset's (README: Your own data):
        `invert` when its images are gray and light on a dark background (inverting colours would
        show the network colours it never saw), `crop` when they show one object on a plain
        background; decided from LOOKED_AT training images (Split.sample)."""
        train = self.split("train")
        images = train.images[train.sample(LOOKED_AT)]
        gray = images.float().mean(1)                                   # (n, H, W)
        border = torch.cat([gray[:, 0], gray[:, -1], gray[:, :, 0], gray[:, :, -1]], 1)
        level = border.median(1, keepdim=True).values
        plain = ((border - level).abs() <= LEVEL).float().mean(1)
        dark = bool(level.median() < DARK) and self.shape[0] == 1  # an inverted colour image has other colours
        return dict(invert=dark, crop=bool(plain.median() >= PLAIN))

    def record(self):
        """What the checkpoint's metrics keep of the dataset (README: the metrics file)."""
        return dict(spec=self.spec, input_shape=list(self.shape), train_images=len(self.split("train")),
                    test_images=len(self.split("test")), upload=self.upload_rule())


def open(spec=None, root=None):  # noqa: A001 (data.open reads as what it does)
    """The dataset `spec` names (see the module's docstring), FashionMNIST when None."""
    spec = spec or DEFAULT
    if spec == DEFAULT:  # read split by split, when asked for: a build needs only the test images
        return Dataset(DEFAULT, _fashion_classes(), {name: functools.partial(_fashion, name, root)
                                                     for name in ("train", "test")}, IMAGE_SHAPE)
    if ":" in spec and not Path(spec).exists():
        dataset = _authors(spec, root)
    elif Path(spec).is_dir() or "/" in spec or os.sep in spec:
        dataset = _folder(spec)
    else:
        dataset = _torchvision(spec, root)
    _check(dataset)
    return dataset


def load(split, data_dir=None, spec=None):
    """The 'train' or 'test' split of the dataset `spec` (FashionMNIST when None)."""
    return open(spec, data_dir).split(split)


def normalisation_of(split):
    """{'mean': [...], 'std': [...]}: each channel's mean and standard deviation on a 0–1 scale over
    the split's images, rounded to 4 decimals."""
    if isinstance(split.images, torch.Tensor):
        channels = split.images.transpose(0, 1).reshape(split.images.shape[1], -1).float().div(255)
        means, stds = channels.mean(1), channels.std(1)
    else:
        means, stds = _streamed_moments(split)
    normalisation = dict(mean=[round(v, 4) for v in means.tolist()], std=[round(v, 4) for v in stds.tolist()])
    flat = [c for c, std in enumerate(normalisation["std"]) if std == 0]
    if flat:
        raise BadDataset(f"channel {flat[0]} has the same value in every training image, so it cannot be "
                         "normalised (its standard deviation is 0); give the images of one channel as grayscale")
    return normalisation


def per_channel(normalisation):
    """{'mean': [...], 'std': [...]} from a normalisation whose values are lists or, as metrics
    written before colour kept them, single numbers."""
    return {key: [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]
            for key, value in normalisation.items() if key in ("mean", "std")}


def as_input(images, mean, std):
    """uint8 images (N, C, H, W), or (N, H, W) of one channel, → the normalised float tensor
    (N, C, H, W) a network sees: (pixel / 255 − mean[c]) / std[c]. `mean` and `std` are one
    number per channel, or one number for all."""
    pixels = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, dtype=np.uint8))
    x = pixels.float().div(255)  # np.array copies: an image read from a file may be a read-only array
    x = x.unsqueeze(1) if x.dim() == 3 else x
    mean, std = (torch.tensor(np.asarray(v, dtype=np.float64), dtype=torch.float32).reshape(-1, 1, 1)
                 for v in (mean, std))
    return x.sub(mean).div(std)


# --- FashionMNIST, found on this machine ------------------------------------------------------------

def _fashion(split, data_dir):
    tried = []
    for root in _candidate_roots(data_dir):
        try:
            return _fashion_from(root, split, download=False)
        except (RuntimeError, OSError) as err:
            tried.append(f"{root} ({_first_line(err)})")
    if _unpack_debian():
        return _fashion_from(CACHE, split, download=False)
    try:
        return _fashion_from(CACHE, split, download=True)
    except Exception as err:  # torchvision raises several types when offline
        tried.append(f"download into {CACHE} ({_first_line(err)})")
    raise DataNotFound(
        "FashionMNIST not found; provide it in one of these ways: "
        f"pass --data-root DIR, set {ENV_VAR}=DIR (DIR holds FashionMNIST/raw/), "
        f"put the files in {CACHE}/FashionMNIST/raw/, "
        "apt-get install dataset-fashion-mnist, or allow torchvision to download it. "
        "Tried: " + "; ".join(tried))


def _fashion_classes():
    from torchvision.datasets import FashionMNIST
    return list(FashionMNIST.classes)


def _fashion_from(root, split, download):
    from torchvision.datasets import FashionMNIST
    ds = FashionMNIST(str(root), train=(split == "train"), download=download)
    return Split(ds.data.unsqueeze(1), ds.targets, shuffled=True)


def _candidate_roots(data_dir):
    if data_dir:
        yield Path(data_dir)
    if os.environ.get(ENV_VAR):
        yield Path(os.environ[ENV_VAR])
    yield CACHE


def _unpack_debian():
    """Unpack Debian's .gz files into the cache; return whether it worked."""
    if not all((DEBIAN / f"{name}.gz").is_file() for name in RAW_FILES):
        return False
    raw = CACHE / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        part = raw / f"{name}.part"
        with gzip.open(DEBIAN / f"{name}.gz", "rb") as src, part.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        part.replace(raw / name)  # a reader never sees half a file
    return True


# --- a folder of images ------------------------------------------------------------------------------

class Files:
    """A folder split's images, read from disk when indexed: files[i] or files[indices] gives uint8
    (n, C, H, W); `channels` is 3 when any image is in colour."""

    def __init__(self, paths, channels, shape):
        self.paths, self.channels, self.shape = paths, channels, (len(paths), channels, *shape)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        indices = torch.arange(len(self))[index]
        pixels = torch.from_numpy(np.stack([_pixels_of(self.paths[i], self.channels) for i in indices.reshape(-1).tolist()]))
        return pixels[0] if indices.dim() == 0 else pixels


def _folder(spec):
    from torchvision.datasets import ImageFolder
    missing = [name for name in ("train", "test") if not (Path(spec) / name).is_dir()]
    if missing:
        raise DataNotFound(f"{spec} has no '{missing[0]}' folder; a folder dataset holds train/<class>/* and "
                           "test/<class>/* (torchvision's ImageFolder layout)")
    found = {}
    for name in ("train", "test"):
        folder = Path(spec) / name
        try:
            found[name] = ImageFolder(str(folder))
        except (FileNotFoundError, RuntimeError) as err:
            raise BadDataset(f"{folder}: {_first_line(err)}; put the images in one subfolder per class") from None
    train, test = found["train"], found["test"]
    if train.classes != test.classes:
        raise BadDataset(f"{spec}: train/ has the classes {', '.join(train.classes)} but test/ has "
                         f"{', '.join(test.classes)}; give both the same class folders")
    channels, size = _folder_looks([path for path, _ in train.samples + test.samples])
    splits = {}
    for name, found_split in found.items():
        paths = [path for path, _ in found_split.samples]
        files = Files(paths, channels, size)
        labels = torch.tensor(found_split.targets, dtype=torch.int64)
        small = 4 * len(paths) * channels * size[0] * size[1] <= _memory_limit()
        splits[name] = Split(_read_all(files, f"reading {spec}/{name}") if small else files, labels)
    return Dataset(spec, train.classes, splits)


def _folder_looks(paths):
    """(channels, (height, width)) of a folder's images, from their headers: 3 when any is in
    colour; refused when two differ in size."""
    from PIL import Image
    channels, size, first = 1, None, None
    for path in paths:
        try:
            with Image.open(path) as image:
                mode, found = image.mode, image.size
        except OSError as err:
            raise BadDataset(f"{path}: cannot read the image ({err}); replace or remove it") from None
        channels = 3 if mode not in GRAY_MODES else channels
        if size is None:
            size, first = found, path
        elif found != size:
            raise BadDataset(f"{path} is {found[0]}×{found[1]} pixels but {first} is "
                             f"{size[0]}×{size[1]}; give every image of the dataset one size")
    return channels, (size[1], size[0])


def _read_all(files, desc):
    pixels = torch.empty(files.shape, dtype=torch.uint8)
    for start in tqdm(range(0, len(files), 1024), desc=desc, unit="batch", dynamic_ncols=True,
                      disable=len(files) < 10_000):
        pixels[start:start + 1024] = files[start:start + 1024]
    return pixels


def _pixels_of(path, channels):
    from PIL import Image
    try:
        with Image.open(path) as image:
            return _as_pixels(image, channels)
    except OSError as err:
        raise BadDataset(f"{path}: cannot read the image ({err}); replace or remove it") from None


def _as_pixels(image, channels):
    """A Pillow image as uint8 (C, H, W) of `channels` channels, transparent parts laid on white."""
    from PIL import Image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1).copy()


def _memory_limit():
    mb = os.environ.get(MEMORY_VAR)
    return int(float(mb) * (1 << 20)) if mb else MEMORY_LIMIT


def _streamed_moments(split):
    """Each channel's mean and (unbiased) standard deviation over a split read from disk."""
    total = squares = None
    count = 0
    for images, _ in split.batches(1024, desc="measuring the normalisation"):
        x = images.double().div(255).transpose(0, 1).reshape(images.shape[1], -1)
        total = x.sum(1) if total is None else total + x.sum(1)
        squares = (x * x).sum(1) if squares is None else squares + (x * x).sum(1)
        count += x.shape[1]
    mean = total / count
    return mean, ((squares - count * mean * mean) / (count - 1)).clamp_min(0).sqrt()


# --- torchvision's datasets and the author's own classes ---------------------------------------------

def _torchvision(spec, root):
    import torchvision.datasets
    cls = getattr(torchvision.datasets, spec, None)
    if not (inspect.isclass(cls) and issubclass(cls, torchvision.datasets.VisionDataset)):
        raise DataNotFound(f"'{spec}' is neither a folder, nor a dataset of torchvision.datasets, nor "
                           "module:Class; name a folder holding train/ and test/, a torchvision dataset such as "
                           "MNIST or CIFAR10, or your own class as module:Class")
    roots = list(_candidate_roots(root))
    tried = []
    for download in (False, True):
        for where in roots if not download else roots[:1]:
            try:
                made = {name: _construct(cls, where, name == "train", download) for name in ("train", "test")}
                return _from_datasets(spec, made)
            except (RuntimeError, OSError, ValueError) as err:
                tried.append(f"{where}{' with download' if download else ''} ({_first_line(err)})")
    raise DataNotFound(f"{spec} not found; pass --data-root DIR holding it as torchvision stores it, or allow "
                       f"torchvision to download it. Tried: {'; '.join(tried)}")


def _authors(spec, root):
    module_name, _, name = spec.partition(":")
    if os.getcwd() not in sys.path:  # the author's module is imported from the project's folder
        sys.path.insert(0, os.getcwd())
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise DataNotFound(f"cannot import the dataset class {spec} ({_first_line(err)}); give it as "
                           "module.path:Class, importable from the project's folder") from None
    try:
        made = {split: _construct(cls, root, split == "train", None) for split in ("train", "test")}
    except Exception as err:  # the author's code may raise anything
        raise BadDataset(f"{spec} could not be constructed ({type(err).__name__}: {_first_line(err)}); it is called "
                         "like a torchvision dataset: Class(root=..., train=True or False, transform=None)") from None
    try:
        return _from_datasets(spec, made)
    except BadDataset:
        raise
    except Exception as err:  # its __getitem__ or __len__ failed
        raise BadDataset(f"{spec} could not be read ({type(err).__name__}: {_first_line(err)}); its items must be "
                         "(image, label) pairs, the image a PIL image or a tensor (C, H, W)") from None


def _construct(cls, root, train, download):
    """cls called with the keywords its signature takes of root, train (or split), transform, download."""
    takes = inspect.signature(cls).parameters
    kwargs = {}
    if "root" in takes:
        kwargs["root"] = str(root or CACHE)
    if "train" in takes:
        kwargs["train"] = train
    elif "split" in takes:
        kwargs["split"] = "train" if train else "test"
    if "transform" in takes:
        kwargs["transform"] = None
    if "download" in takes and download is not None:
        kwargs["download"] = download
    return cls(**kwargs)


def _from_datasets(spec, made):
    """A Dataset from two map-style datasets giving (image, label), read whole into memory."""
    splits = {}
    first = made["train"][0][0]
    channels = 1 if _channels_of(first) == 1 and all(_channels_of(made[s][0][0]) == 1 for s in made) else 3
    for name, dataset in made.items():
        items = [dataset[i] for i in tqdm(range(len(dataset)), desc=f"reading {spec} {name}", unit="image",
                                          disable=len(dataset) < 10_000, dynamic_ncols=True)]
        pixels = [_item_pixels(image, channels, f"{spec}: {name} image {i}") for i, (image, _) in enumerate(items)]
        shape = pixels[0].shape
        odd = next((i for i, p in enumerate(pixels) if p.shape != shape), None)
        if odd is not None:
            raise BadDataset(f"{spec}: {name} image {odd} is {pixels[odd].shape[2]}×{pixels[odd].shape[1]} pixels but "
                             f"image 0 is {shape[2]}×{shape[1]}; give every image one size")
        splits[name] = Split(torch.from_numpy(np.stack(pixels)), torch.tensor([int(l) for _, l in items]))
    labels = int(max(splits["train"].labels.max(), splits["test"].labels.max())) + 1
    names = getattr(made["train"], "classes", None) or [str(k) for k in range(labels)]
    return Dataset(spec, [str(c) for c in names], splits)


def _channels_of(image):
    from PIL import Image
    if isinstance(image, Image.Image):
        return 1 if image.mode in GRAY_MODES else 3
    shape = tuple(np.shape(image))
    return 1 if len(shape) == 2 or shape[0] == 1 else 3


def _item_pixels(image, channels, which):
    """An item's image as uint8 (channels, H, W): a PIL image, or a tensor or array (C, H, W) with C 1
    or 3, or (H, W), of bytes or of floats from 0 to 1 (what ToTensor gives); else BadDataset naming
    `which` item it is."""
    from PIL import Image
    if isinstance(image, Image.Image):
        return _as_pixels(image, channels)
    x = torch.as_tensor(np.asarray(image))
    x = x[None] if x.dim() == 2 else x
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise BadDataset(f"{which} has shape {tuple(np.shape(image))}; give a PIL image, or a tensor (C, H, W) with "
                         "1 or 3 channels first")
    if x.dtype != torch.uint8:
        if x.is_floating_point() and (x.min() < 0 or x.max() > 1):
            raise BadDataset(f"{which} holds floats from {float(x.min()):.3g} to {float(x.max()):.3g}; give pixels "
                             "from 0 to 1 (as ToTensor makes them, before any normalisation) or bytes 0–255")
        x = (x.double() * 255).round().clamp(0, 255).to(torch.uint8)
    return x.expand(channels, *x.shape[1:]).numpy().copy() if x.shape[0] != channels else x.numpy()


def _check(dataset):
    """Refuse a dataset layerwise cannot show: its channels, sides or number of classes."""
    c, h, w = dataset.shape
    if c not in (1, 3):
        raise BadDataset(f"{dataset.spec}'s images have {c} channels; layerwise shows images of 1 or 3 channels")
    if not all(SIDES[0] <= side <= SIDES[1] for side in (h, w)):
        raise BadDataset(f"{dataset.spec}'s images are {w}×{h} pixels; layerwise shows images from {SIDES[0]} to "
                         f"{SIDES[1]} pixels a side: resize them")
    n = len(dataset.classes)
    labels = torch.cat([dataset.split(s).labels for s in ("train", "test")])
    if not CLASSES[0] <= n <= CLASSES[1]:
        raise BadDataset(f"{dataset.spec} has {n} classes; layerwise explains from {CLASSES[0]} to {CLASSES[1]}")
    if len(labels) and (labels.min() < 0 or labels.max() >= n):
        raise BadDataset(f"{dataset.spec} has labels from {int(labels.min())} to {int(labels.max())} but {n} "
                         "classes; number the labels 0 to classes − 1")


def _first_line(err):
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
