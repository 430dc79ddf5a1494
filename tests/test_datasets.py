"""model.data opens every kind of dataset an author can name, and refuses what layerwise cannot show.

The oracle is the files themselves, read with Pillow or numpy here (tests/datasets.py's read_folder,
IDX bytes written by hand), never model.data's own reading.

    .venv/bin/python -m pytest tests/test_datasets.py -q
"""
import json
import re
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_main
from model import data
from tests import datasets
from tests.models.own_data import Stripes


@pytest.fixture(scope="module")
def colour(tmp_path_factory):
    return datasets.colour_folder(tmp_path_factory.mktemp("colour"))


@pytest.fixture(scope="module")
def gray(tmp_path_factory):
    return datasets.gray_folder(tmp_path_factory.mktemp("gray"))


def moments(images):
    """Each channel's mean and unbiased std of uint8 images (N, C, H, W), on a 0–1 scale, in float64."""
    x = images.astype(np.float64).transpose(1, 0, 2, 3).reshape(images.shape[1], -1) / 255
    return x.mean(1), x.std(1, ddof=1)


@pytest.mark.parametrize("which", ["colour", "gray"])
def test_a_folder_is_read_as_its_files_say(which, request):
    root = request.getfixturevalue(which)
    dataset = data.open(str(root))
    for split in ("train", "test"):
        images, labels, classes = datasets.read_folder(root, split)
        got = dataset.split(split)
        assert dataset.classes == classes
        assert np.array_equal(got.images.numpy(), images) and np.array_equal(got.labels.numpy(), labels)
    assert dataset.shape == images.shape[1:]
    mean, std = moments(datasets.read_folder(root, "train")[0])
    norm = dataset.normalisation()
    assert np.allclose(norm["mean"], mean, atol=6e-5) and np.allclose(norm["std"], std, atol=6e-5)


def test_a_folder_too_large_for_memory_is_read_from_disk_with_the_same_numbers(colour, monkeypatch):
    in_memory = data.open(str(colour))
    monkeypatch.setenv(data.MEMORY_VAR, "0")
    streamed = data.open(str(colour))
    train = streamed.split("train")
    assert isinstance(train.images, data.Files), "a split over the memory limit is read when indexed"
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:50]
    assert torch.equal(train.images[order], in_memory.split("train").images[order])
    batches = list(train.batches(64, order))
    assert torch.equal(torch.cat([images for images, _ in batches]), in_memory.split("train").images[order])
    assert streamed.normalisation() == in_memory.normalisation()
    assert streamed.upload_rule() == in_memory.upload_rule()


def test_an_authors_class_is_constructed_like_torchvisions():
    dataset = data.open("tests.models.own_data:Stripes")
    assert dataset.classes == Stripes.classes and dataset.shape == (3, *Stripes.size)
    for split, train in (("train", True), ("test", False)):
        made = Stripes(train=train)
        assert np.array_equal(dataset.split(split).images.numpy(), made.data.transpose(0, 3, 1, 2))
        assert dataset.split(split).labels.tolist() == made.targets


def write_idx(path, array):
    """An IDX file as MNIST's are: zero, zero, type 0x08 (uint8), the number of dimensions, each
    dimension as a big-endian int32, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_a_torchvision_dataset_by_name_is_found_in_the_data_root(gray, tmp_path):
    """MNIST's own files, written here from the gray dataset, are what torchvision reads offline."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels, _ = datasets.read_folder(gray, split)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[:, 0])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    dataset = data.open("MNIST", root=tmp_path)
    assert dataset.spec == "MNIST" and dataset.shape == (1, 20, 36)
    assert dataset.classes[:2] == ["0 - zero", "1 - one"], "torchvision's names for MNIST's classes"
    images, labels, _ = datasets.read_folder(gray, "test")
    assert np.array_equal(dataset.split("test").images.numpy(), images)
    assert np.array_equal(dataset.split("test").labels.numpy(), labels)


def test_fashion_mnist_is_one_channel_of_28_by_28_light_on_dark(fashion_test_split):
    dataset = data.open()
    assert dataset.shape == (1, 28, 28) and len(dataset.classes) == 10
    assert tuple(fashion_test_split.images.shape) == (10000, 1, 28, 28)
    assert dataset.upload_rule() == {"invert": True, "crop": True}


def test_the_upload_rule_follows_the_images(colour, gray):
    assert data.open(str(gray)).upload_rule() == {"invert": True, "crop": True}, "light strokes on black"
    assert data.open(str(colour)).upload_rule() == {"invert": False, "crop": False}, "a picture on a varied ground"


def test_as_input_normalises_each_channel_with_its_own_numbers():
    images = np.random.default_rng(0).integers(0, 256, (2, 3, 4, 5), dtype=np.uint8)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.4]
    expected = (images / 255 - np.reshape(mean, (1, 3, 1, 1))) / np.reshape(std, (1, 3, 1, 1))
    assert np.allclose(data.as_input(images, mean, std).numpy(), expected, atol=1e-6)
    assert data.per_channel({"mean": 0.286, "std": 0.353}) == {"mean": [0.286], "std": [0.353]}


def save(pixels, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def folder_of(root, shapes, classes=("a", "b"), test_classes=None):
    """A folder dataset whose images have the given (H, W) or (H, W, 3) shapes in turn."""
    for split, names in (("train", classes), ("test", test_classes or classes)):
        for k, name in enumerate(names):
            for n, shape in enumerate(shapes):
                save(np.full(shape, 40 * k + n, dtype=np.uint8), root / split / name / f"{n}.png")
    return str(root)


@pytest.mark.parametrize("shapes, classes, test_classes, words", [
    ([(8, 8)], ("a", "b"), None, "8×8 pixels; layerwise shows images from 16 to 96"),
    ([(20, 120)], ("a", "b"), None, "120×20 pixels"),
    ([(20, 20), (24, 20)], ("a", "b"), None, "give every image of the dataset one size"),
    ([(20, 20)], ("a",), None, "has 1 classes; layerwise explains from 2 to 100"),
    ([(20, 20)], ("a", "b"), ("a", "c"), "train/ has the classes a, b but test/ has a, c"),
])
def test_a_dataset_layerwise_cannot_show_is_refused_by_name(tmp_path, shapes, classes, test_classes, words):
    spec = folder_of(tmp_path / "d", shapes, classes, test_classes)
    with pytest.raises(data.BadDataset, match=words.replace("(", r"\(")):
        data.open(spec)


def test_a_folder_without_its_splits_and_an_unknown_name_say_what_a_dataset_is(tmp_path):
    (tmp_path / "photos" / "train" / "a").mkdir(parents=True)
    with pytest.raises(data.DataNotFound, match="has no 'test' folder"):
        data.open(str(tmp_path / "photos"))
    with pytest.raises(data.DataNotFound, match="neither a folder, nor a dataset of torchvision.datasets"):
        data.open("NoSuchSet")


def test_the_command_line_refuses_an_unknown_augmentation_before_training(gray, tmp_path):
    code, err = run_main("train", "--model", "tests.models.own_data:GrayNet", "--checkpoint",
                             str(tmp_path / "net.pt"), "--dataset", str(gray), "--augment", "flip,rotate")
    assert code == 1 and "unknown augmentation rotate; choose from flip, crop, erase" in err
    assert not (tmp_path / "net.pt").exists()


def test_training_on_a_streamed_folder_gives_the_same_weights(gray, tmp_path, monkeypatch):
    """Reading batches from disk changes nothing the network learns: the same checkpoint, bit for bit,
    and the metrics record the dataset and the declared augmentations."""
    sums = []
    for memory in ("", "0"):
        monkeypatch.setenv(data.MEMORY_VAR, memory)
        checkpoint = tmp_path / f"memory{memory or '-default'}" / "net.pt"  # torch.save writes the name in
        code, err = run_main("train", "--model", "tests.models.own_data:GrayNet", "--checkpoint", checkpoint,
                             "--dataset", gray, "--epochs", "1", "--augment", "crop,flip")
        assert code == 0, err
        sums.append(checkpoint.read_bytes())
    assert sums[0] == sums[1]
    metrics = json.loads(checkpoint.with_suffix(".json").read_text())
    assert metrics["dataset"]["spec"] == str(gray) and metrics["dataset"]["input_shape"] == [1, 20, 36]
    assert metrics["hyperparameters"]["augment"] == ["flip", "crop"], "in the order they are applied"
    assert metrics["classes"] == datasets.GRAY_CLASSES


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


class Tensors:
    """An author's class whose items are tensors, as a ToTensor transform gives them: floats 0–1 (C, H, W)."""
    classes = ["dark", "light"]

    def __init__(self, train=True, scale=1.0, shape=(3, 20, 24)):
        generator = torch.Generator().manual_seed(0 if train else 1)
        self.images = torch.rand(40, *shape, generator=generator) * scale
        self.labels = [n % 2 for n in range(40)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]


class Scaled(Tensors):
    def __init__(self, train=True):
        super().__init__(train, scale=255.0)


class ChannelsLast(Tensors):
    def __init__(self, train=True):
        super().__init__(train, shape=(20, 24, 3))


def test_an_authors_class_may_give_tensors_from_0_to_1():
    dataset = data.open(f"{__name__}:Tensors")
    expected = (Tensors(train=False).images.double() * 255).round().to(torch.uint8)
    assert dataset.shape == (3, 20, 24) and torch.equal(dataset.split("test").images, expected)


@pytest.mark.parametrize("cls, words", [
    ("Scaled", "test_datasets:Scaled: train image 0 holds floats from"),
    ("ChannelsLast", "has shape (20, 24, 3); give a PIL image, or a tensor (C, H, W)"),
])
def test_an_authors_images_of_another_form_are_refused_by_name(cls, words):
    with pytest.raises(data.BadDataset, match=re.escape(words)):
        data.open(f"{__name__}:{cls}")


def test_a_corrupt_image_and_a_constant_channel_are_refused_naming_them(tmp_path):
    spec = folder_of(tmp_path / "d", [(20, 20)])
    (tmp_path / "d" / "train" / "a" / "0.png").write_bytes(b"not a picture")
    with pytest.raises(data.BadDataset, match=r"0\.png: cannot read the image"):
        data.open(spec)
    flat = tmp_path / "flat"
    for split in ("train", "test"):
        for k, name in enumerate("ab"):
            pixels = np.zeros((20, 20, 3), dtype=np.uint8)
            pixels[..., 0] = 50 * k + 10    # red varies, green and blue are 0 everywhere
            save(pixels, flat / split / name / "0.png")
    with pytest.raises(data.BadDataset, match="channel 1 has the same value in every training image"):
        data.open(str(flat)).normalisation()


def test_a_folder_stored_class_by_class_is_sampled_across_its_classes(tmp_path):
    """The upload rule and the batch norms' calibration look at images spread over the split, so a
    folder's first class alone does not decide them; a colour dataset is never inverted."""
    root = tmp_path / "d"
    for split, count in (("train", 30), ("test", 2)):
        for name, level in (("a-dark", 0), ("b-light", 255)):
            for n in range(count):
                pixels = np.full((20, 20), level, dtype=np.uint8)
                pixels[8:12, 8:12] = 128 + n
                save(pixels, root / split / name / f"{n}.png")
    train = data.open(str(root)).split("train")
    assert set(train.labels[train.sample(10)].tolist()) == {0, 1}
    assert set(train.subset(10).labels.tolist()) == {0, 1}
    colour = datasets.colour_folder(tmp_path / "colour")
    assert data.open(str(colour)).split("train").sample(4).tolist() == [0, 80, 159, 239]
    for path in (tmp_path / "colour").rglob("*.png"):   # the same pictures, darkened: dark borders
        Image.fromarray(np.asarray(Image.open(path)) // 8).save(path)
    assert data.open(str(colour)).upload_rule()["invert"] is False, "inverting a colour picture changes its colours"
