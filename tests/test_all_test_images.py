"""Every test image is published (builder/testset.py), in small files the page fetches when one is asked
for, so that a link or the picker's number field makes any of them the input: checked against the
dataset's own IDX files read here with NumPy, and against PyTorch's forward pass.

    .venv/bin/python -m pytest tests/test_all_test_images.py
"""
import gzip
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from builder import contract as build_contract
from conftest import CHECKPOINT, open_page
from model.cnn import FashionCNN
from test_own_input import CANVAS_GRAY, expect_follows, torch_outputs

IDX = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist, as the IDX files were published


def idx(name):
    """An IDX file read with NumPy: two zero bytes, the type (8: unsigned bytes), the number of dimensions,
    then each dimension's size as a big-endian 4-byte integer, then the values."""
    raw = gzip.decompress((IDX / f"{name}.gz").read_bytes())
    assert raw[:3] == b"\0\0\x08", f"{name}: not an IDX file of unsigned bytes"
    dims = raw[3]
    shape = np.frombuffer(raw[4:4 + 4 * dims], dtype=">u4").astype(int)
    return np.frombuffer(raw[4 + 4 * dims:], dtype=np.uint8).reshape(shape)


@pytest.fixture(scope="module")
def dataset():
    if not IDX.is_dir():
        pytest.skip(f"{IDX} is not on this machine (apt-get install dataset-fashion-mnist)")
    return SimpleNamespace(images=idx("t10k-images-idx3-ubyte"), labels=idx("t10k-labels-idx1-ubyte"))


@pytest.fixture(scope="module")
def published(site):
    return json.loads((site / build_contract.url("tests")).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model():
    net = FashionCNN()
    net.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    return net.eval()


def test_the_site_publishes_every_test_image_and_label_as_the_dataset_has_them(site, published, dataset, contract):
    """The files, put one after another, are the dataset's test images byte for byte; each is small."""
    from builder import testset
    total = len(dataset.labels)
    assert (published["total"], published["count"]) == (total, total), "FashionMNIST's test set fits the cap"
    assert published["shape"] == [1, 28, 28]
    assert published["labels"] == dataset.labels.tolist()
    files = [site / build_contract.url("test_chunk", chunk=n) for n in range(-(-total // published["chunk"]))]
    assert all(path.stat().st_size <= testset.CHUNK for path in files)
    pixels = np.frombuffer(b"".join(path.read_bytes() for path in files), dtype=np.uint8)
    assert np.array_equal(pixels.reshape(dataset.images.shape), dataset.images)
    assert sum(path.stat().st_size for path in files) <= published["cap"] == testset.CAP
    assert set(contract["urls"]) >= {"tests", "test_chunk"}


@pytest.mark.parametrize("shape, total", [((1, 28, 28), 10_000), ((3, 32, 32), 10_000), ((3, 96, 96), 100_000),
                                          ((1, 16, 16), 7)])
def test_what_is_published_is_capped_by_bytes_in_whole_small_files(tmp_path, shape, total):
    """A large test set is cut at the cap: its first images, whole files of at most CHUNK bytes each
    (one image per file where one is larger), and the index says how many of how many."""
    from builder import testset
    images = torch.arange(min(total, 400) * int(np.prod(shape)), dtype=torch.int64).remainder(251).to(torch.uint8)
    split = _Split(images.reshape(-1, *shape), total)
    assert testset.write(tmp_path, split, shape)
    index = json.loads((tmp_path / build_contract.url("tests")).read_text(encoding="utf-8"))
    size = int(np.prod(shape))
    assert index["total"] == total and index["count"] <= total
    assert index["count"] * size <= testset.CAP
    assert index["count"] == total or (index["count"] + index["chunk"]) * size > testset.CAP  # no room for one more
    files = sorted((tmp_path / "data" / "tests").iterdir(), key=lambda path: int(path.stem))
    assert len(files) == -(-index["count"] // index["chunk"])
    assert all(path.stat().st_size <= max(testset.CHUNK, size) for path in files)
    last = np.frombuffer(files[-1].read_bytes(), dtype=np.uint8).reshape(-1, *shape)[-1]
    assert np.array_equal(last, split.images[torch.tensor([index["count"] - 1])][0].numpy())
    assert index["labels"] == (np.arange(index["count"]) % 10).tolist()


class _Split:
    """A test split of `total` images made of `images` repeated, indexed as model.data's splits are."""

    def __init__(self, images, total):
        self.pool, self.total, self.labels = images, total, torch.arange(total) % 10
        self.images = self

    def __len__(self):
        return self.total

    def __getitem__(self, index):
        indices = torch.arange(self.total)[index]
        return self.pool[indices.remainder(len(self.pool))]


def test_a_link_to_any_test_image_shows_it_and_pytorchs_answer(page, server, dataset, model, committed_metrics,
                                                             contract):
    """#input=test.777 (no mistake of the confusion matrix) shows the dataset's test image 777, and every
    figure PyTorch's numbers for it; only its file of images is fetched, and nothing fails."""
    index = 777
    failed, fetched = [], []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.on("request", lambda request: fetched.append(request.url))
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, server, f"#input=test.{index}")
    pixels = dataset.images[index]
    expect(page.locator(".lw-yours input")).to_be_checked()
    chip = np.array(page.locator(".lw-yours canvas").evaluate(CANVAS_GRAY)).reshape(28, 28)
    assert np.array_equal(chip, pixels), "the picker's picture of the input is the dataset's test image"
    expect(page.locator(".lw-status")).to_contain_text(
        f"Showing {FashionCNN.classes[int(dataset.labels[index])]} (FashionMNIST test image {index})")
    expect_follows(page, model, committed_metrics, pixels, contract)
    chunk = index // 100
    assert [url for url in fetched if "/data/tests/" in url] == [server + build_contract.url("test_chunk", chunk=chunk)]
    expect(page.locator(".lw-link-said")).to_be_hidden()
    assert failed == [] and errors == []


def test_links_to_the_images_at_each_files_edges_show_them_and_pytorchs_answer(page, server, dataset, published,
                                                                              model, committed_metrics):
    """The first image of the first file that the picker does not offer already (one it offers chooses
    its thumbnail: test_own_input), the last of that file, the first of the second and the last of the
    set (3, 99, 100 and 9,999 of FashionMNIST's, 100 to a file), linked one after another on one page: each time the
    picker's picture is the dataset's image, the status names it and PyTorch's prediction, the output
    table shows PyTorch's logits, and the file fetched is the one that holds it."""
    chunk, last = published["chunk"], published["count"] - 1
    failed, fetched, errors = [], [], []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.on("request", lambda request: fetched.append(request.url) if "/data/tests/" in request.url else None)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, server)
    offered = set(page.locator(".lw-picker input[name=input]").evaluate_all("inputs => inputs.map(input => input.value)"))
    first = next(index for index in range(chunk) if f"test-{index:05d}" not in offered)
    for index in (first, chunk - 1, chunk, last):
        page.evaluate("fragment => { location.hash = fragment }", f"#input=test.{index}")
        logits = torch_outputs(model, committed_metrics, dataset.images[index])["fc2"]
        expect(page.locator(".lw-status")).to_contain_text(
            f"Showing {FashionCNN.classes[int(dataset.labels[index])]} (FashionMNIST test image {index})")
        expect(page.locator(".lw-status")).to_contain_text(f"predicted {FashionCNN.classes[int(logits.argmax())]}")
        expect(page.locator("#fig-fc2 tbody .lw-logit")).to_have_text([build_contract.number(v) for v in logits])
        page.wait_for_function(f"pixels => ({CANVAS_GRAY})(document.querySelector('.lw-yours canvas'))"
                               ".every((value, i) => value === pixels[i])", arg=dataset.images[index].ravel().tolist())
        assert fetched[-1] == server + build_contract.url("test_chunk", chunk=index // chunk)
    assert sorted(set(fetched)) == sorted({server + build_contract.url("test_chunk", chunk=n)
                                           for n in (0, 1, last // chunk)}), "only the files that hold them"
    expect(page.locator(".lw-link-said")).to_be_hidden()
    assert failed == [] and errors == []


def test_the_picker_takes_a_test_images_number_from_the_keyboard(page, server, dataset, model, committed_metrics,
                                                                 contract):
    """Typing a number and Enter makes that test image the input, without leaving the page; a number
    past the last is refused by the field, and nothing changes."""
    open_page(page, server)
    page.evaluate("window.stayed = true")
    field = page.locator(".lw-test-pick")
    expect(field).to_have_attribute("max", str(len(dataset.labels) - 1))
    field.focus()
    page.keyboard.type("4321")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"input=test\.4321\b"))
    expect_follows(page, model, committed_metrics, dataset.images[4321], contract)
    status = page.locator(".lw-status").inner_text()
    field.fill("")
    field.focus()
    page.keyboard.type(str(len(dataset.labels)))
    page.keyboard.press("Enter")
    assert page.evaluate("window.stayed") is True, "Enter submitted the picker's form"
    assert field.evaluate("field => field.validity.rangeOverflow")
    expect(page).to_have_url(re.compile(r"input=test\.4321\b"))
    expect(page.locator(".lw-status")).to_have_text(status)


def test_a_test_image_past_the_set_or_the_cap_is_named_under_the_picker(page, server, published, contract, dataset):
    """test.10000 is past FashionMNIST's test set; with an index that publishes fewer (as a large set's
    would), an image past them is named with the cap, and no file is asked for; the last one published
    (at the cap's edge) is shown, the next one named."""
    said = page.locator(".lw-link-said")
    texts = contract["texts"]
    open_page(page, server, f"#input=test.{published['total']}")
    expect(said).to_have_text(texts["link_unusable"].format(
        name="input", value=f"test.{published['total']}",
        why=texts["link_test"].format(last=f"{published['total'] - 1:,}")))

    fewer = dict(published, count=5000, labels=published["labels"][:5000])
    other = page.context.new_page()  # a page that has not read data/tests.json yet
    other.route("**/data/tests.json", lambda route: route.fulfill(json=fewer))
    fetched = []
    other.on("request", lambda request: fetched.append(request.url) if "/data/tests/" in request.url else None)
    open_page(other, server, "#input=test.7000")
    expect(other.locator(".lw-link-said")).to_have_text(texts["link_unusable"].format(
        name="input", value="test.7000", why=texts["link_test_cap"].format(
            count=f"{5000:,}", total=f"{published['total']:,}",
            cap=f"{published['cap'] // 10**6:,}")))
    assert fetched == []
    other.evaluate("location.hash = '#input=test.4999'")
    expect(other.locator(".lw-status")).to_contain_text(
        f"Showing {FashionCNN.classes[int(dataset.labels[4999])]} (FashionMNIST test image 4999)")
    other.wait_for_function(f"pixels => ({CANVAS_GRAY})(document.querySelector('.lw-yours canvas'))"
                            ".every((value, i) => value === pixels[i])", arg=dataset.images[4999].ravel().tolist())
    expect(other.locator(".lw-link-said")).to_be_hidden()
    other.evaluate("location.hash = '#input=test.5000'")
    expect(other.locator(".lw-link-said")).to_have_text(texts["link_unusable"].format(
        name="input", value="test.5000", why=texts["link_test_cap"].format(
            count=f"{5000:,}", total=f"{published['total']:,}",
            cap=f"{published['cap'] // 10**6:,}")))
    expect(other.locator(".lw-status")).to_contain_text("(FashionMNIST test image 4999)")  # and stays on it
    assert fetched == [server + build_contract.url("test_chunk", chunk=4999 // published["chunk"])]
