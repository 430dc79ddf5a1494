"""Networks of other data than FashionMNIST, built: a colour one (3 × 32 × 32, five classes, trained on a
folder of photos: its uploads are scaled to cover and not inverted) and a non-square grayscale one
(1 × 20 × 36, three classes, a dataset of light objects on black: inverted and cropped), each with
random weights and the metrics' "dataset" record and per-channel normalisation written here.

- every layer the site publishes for each input is an independent float64 forward pass's
  (tests/oracle.py) on the pixels an independent Pillow computation makes of the author's image;
- a colour input is published as its RGB picture and one gray map per channel, a gray one as before;
- the contract carries the site's conversion rule and names the dataset; the article prints the
  dataset's name, its input shape and its classes;
- a `- test: N` input is the dataset's own test image N, exported as an RGB PNG with its label;
- what cannot be shown truthfully is refused, naming both numbers.

    .venv/bin/python -m pytest tests/test_colour_build.py -x -q
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from builder import network as nets
from builder.errors import BuildError
from builder.inputs import convert
from conftest import CONTRACT, run_main, urls_of
from oracle import forward, published_outputs, steps_of
from tests.models import colour_build

CLASSES = {"Colour": ["red", "green", "blue", "cyan", "gold"], "WideGray": ["one", "two", "three"]}
NORMALISATION = {"Colour": {"mean": [0.5, 0.4, 0.3], "std": [0.25, 0.2, 0.3]},
                 "WideGray": {"mean": [0.2], "std": [0.3]}}
UPLOAD = {"Colour": {"invert": False, "crop": False}, "WideGray": {"invert": True, "crop": True}}
ARTICLE = """---
model: tests.models.colour_build:{name}
checkpoint: {checkpoint}
inputs:
{inputs}
---

# On {{{{ dataset.name }}}}

Images of {{{{ dataset.channels }}}} × {{{{ dataset.height }}}} × {{{{ dataset.width }}}}, classes {{{{ model.classes|join(", ") }}}}.

![The input](layer:input)

![The first convolution](layer:conv1)

![The output](layer:fc)
"""


def shape_picture(size, background, ink, mode="RGB"):
    """An off-centre ellipse and a darker block on a plain background."""
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.2, h * 0.1, w * 0.7, h * 0.8), fill=ink)
    draw.rectangle((w * 0.5, h * 0.4, w * 0.9, h * 0.9), fill=ink // 2 if mode == "L" else tuple(v // 2 for v in ink))
    return image


def transparent_picture(size):
    """Blue on a transparent background, with half-transparent stripes."""
    pixels = np.asarray(shape_picture(size, (0, 0, 0, 0), (20, 120, 200, 255), "RGBA")).copy()
    pixels[::3, :, 3] //= 3
    return Image.fromarray(pixels, "RGBA")


def folder_dataset(root, rng):
    """A colour folder dataset, train/<class>/*.png and test/<class>/*.png, of random 32 × 32 pictures."""
    for split in ("train", "test"):
        for name in CLASSES["Colour"]:
            (root / split / name).mkdir(parents=True)
            for n in range(3):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels, "RGB").save(root / split / name / f"{n}.png")
    return root


def images_for(name, rng):
    """The author's images of each project: of another size, of the input's size, gray, transparent."""
    if name == "Colour":
        return {"photo.png": shape_picture((50, 40), "white", (200, 30, 60)),
                "exact.png": Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB"),
                "gray.png": shape_picture((40, 30), 230, 40, "L"),
                "clear.png": transparent_picture((45, 61))}
    return {"garment.png": shape_picture((60, 45), "white", (20, 90, 160)),
            "exact.png": Image.fromarray(rng.integers(0, 256, (20, 36), dtype=np.uint8), "L"),
            "clear.png": transparent_picture((30, 70))}


def make_project(name, folder):
    """The model with random weights, its metrics with a dataset record, an article and its images."""
    rng = np.random.default_rng(11)
    torch.manual_seed(11)
    model = getattr(colour_build, name)()
    torch.save(model.state_dict(), folder / "net.pt")
    spec = str(folder_dataset(folder / "shapes", rng)) if name == "Colour" else "MNIST"
    dataset = dict(spec=spec, input_shape=list(model.input_shape), train_images=15, test_images=15,
                   upload=UPLOAD[name])
    metrics = dict(test_accuracy=0.5, test_images=15, classes=CLASSES[name], normalisation=NORMALISATION[name],
                   dataset=dataset)
    (folder / "net.json").write_text(json.dumps(metrics), encoding="utf-8")
    content = folder / "content"
    (content / "inputs").mkdir(parents=True)
    images = images_for(name, rng)
    for file, image in images.items():
        image.save(content / "inputs" / file)
    entries = [f"  - {file}" for file in images] + (["  - test: 7"] if name == "Colour" else [])
    (content / "article.md").write_text(ARTICLE.format(name=name, checkpoint=folder / "net.pt",
                                                       inputs="\n".join(entries)), encoding="utf-8")
    status, said = run_main("build", "--content", content, "--out", folder / "site")
    assert status == 0, said
    return SimpleNamespace(name=name, model=model, folder=folder, site=folder / "site", content=content,
                           images=images, dataset=dataset, said=said, spec=spec,
                           network=json.loads((folder / "site" / "data" / "network.json").read_text("utf-8")))


@pytest.fixture(scope="module", params=["Colour", "WideGray"])
def project(request, tmp_path_factory):
    return make_project(request.param, tmp_path_factory.mktemp(request.param))


# --- an independent conversion: Pillow's own operations, as the contract's documentation says -------

def pillow_conversion(image, shape, invert, crop):
    """uint8 (C, H, W) of an author's image for a network of `shape`, with Pillow's operations: laid on
    white, luma for one channel, inverted when the rule inverts and the border is light, then fitted
    (cropped to its object, scaled to ImageOps.contain's size, centred on black) or covered (scaled
    to ImageOps.cover's size, its middle cut out)."""
    channels, height, width = shape
    rgba = image.convert("RGBA")
    picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    if channels == 1:
        picture = picture.convert("L")
    luma = np.asarray(picture.convert("L"), dtype=np.float64)
    if invert and np.concatenate([luma[0], luma[-1], luma[:, 0], luma[:, -1]]).mean() > 127:
        picture = ImageOps.invert(picture)
    if picture.size != (width, height):
        if crop:
            rows, cols = np.nonzero(np.asarray(picture.convert("L")) > 24)
            picture = picture.crop((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
            fitted = across_then_down(picture, ImageOps.contain(picture, (width, height)).size)
            picture = Image.new(picture.mode, (width, height), 0)
            picture.paste(fitted, (round((width - fitted.width) / 2), round((height - fitted.height) / 2)))
        else:
            covered = across_then_down(picture, ImageOps.cover(picture, (width, height)).size)
            left, top = round((covered.width - width) / 2), round((covered.height - height) / 2)
            picture = covered.crop((left, top, left + width, top + height))
    pixels = np.asarray(picture, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def across_then_down(image, size):
    """Resized with Pillow's Lanczos filter in the contract's order: the width first, then the height (a
    single resize may do the height first, which rounds differently)."""
    across = image.resize((size[0], image.height), Image.Resampling.LANCZOS)
    return across.resize(size, Image.Resampling.LANCZOS)


def expected_pixels(project, file):
    image = project.images[file]
    shape = tuple(project.dataset["input_shape"])
    return pillow_conversion(image, shape, **project.dataset["upload"])


def test_each_image_converts_as_pillow_does(project):
    """Both rules, on colour, gray and transparent images, of the input's size and of others."""
    shape = tuple(project.dataset["input_shape"])
    for file, image in project.images.items():
        expected = pillow_conversion(image, shape, **project.dataset["upload"])
        rule = dict(json.loads((project.site / CONTRACT).read_text("utf-8"))["conversion"])
        got, changes = convert(image, shape, rule)
        assert got.shape == shape and got.dtype == np.uint8, file
        assert np.array_equal(got, expected), f"{file}: {int((got != expected).sum())} values differ"
        assert expected.std() > 10, f"{file}: the sample must hold a picture, not a blank"
    for rule in ({"invert": True, "crop": True}, {"invert": False, "crop": False}):  # the other site's rule too
        for file, image in project.images.items():
            got, _ = convert(image, shape, dict(json.loads((project.site / CONTRACT).read_text("utf-8"))["conversion"],
                                                **rule))
            assert np.array_equal(got, pillow_conversion(image, shape, **rule)), (file, rule)


def test_every_layer_is_the_float64_forward_pass(project):
    """The published outputs of every layer, for every input, against torch.nn.functional in float64 on
    the pixels Pillow makes of the image and the normalisation of the metrics, channel by channel."""
    state = project.model.state_dict()
    norm = NORMALISATION[project.name]
    mean, std = (torch.tensor(norm[key], dtype=torch.float64)[:, None, None] for key in ("mean", "std"))
    for file in project.images:
        pixels = torch.from_numpy(expected_pixels(project, file).astype(np.float64))
        expected = forward(steps_of(project.model), state, ((pixels / 255 - mean) / std)[None])
        published = published_outputs(project.site, project.network, file.rpartition(".")[0])
        assert list(published) == ["input", *[name for name, *_ in steps_of(project.model)]]
        for layer, values in published.items():
            want = expected[layer][0].numpy()
            assert values.shape == want.shape, (file, layer)
            assert np.allclose(values, want, rtol=1e-5, atol=1e-5), \
                f"{file}, {layer}: off by up to {np.abs(values - want).max():.3g}"


def test_the_input_is_published_as_its_picture_and_its_channels(project):
    """A colour input: an RGB PNG of its pixels, and a gray map per channel on the input's scale; a gray
    input: its one map, the picture. The page gets the channels, the normalisation lists and the rule."""
    url = urls_of(project.site)
    contract = json.loads((project.site / CONTRACT).read_text("utf-8"))
    channels, height, width = project.dataset["input_shape"]
    scale = contract["scales"]["input"]
    assert scale["cmap"] == "gray"
    assert project.network["normalisation"] == NORMALISATION[project.name]
    assert project.network["layers"][0]["shape"] == [channels, height, width]
    assert contract["conversion"]["channels"] == channels
    assert {key: contract["conversion"][key] for key in ("invert", "crop")} == UPLOAD[project.name]
    assert ("picture" in contract["urls"]) == (channels == 3)
    for file in project.images:
        input_id = file.rpartition(".")[0]
        pixels = expected_pixels(project, file)
        values = published_outputs(project.site, project.network, input_id)["input"]
        for k in range(channels):
            with Image.open(project.site / url("map", input=input_id, layer="input", k=k)) as image:
                shown = np.asarray(image.convert("L"), dtype=np.int16)
            levels = np.clip(np.rint((values[k] - scale["vmin"]) / (scale["vmax"] - scale["vmin"]) * 255), 0, 255)
            assert np.array_equal(shown, levels), f"{file}: map {k}"
        assert not (project.site / url("map", input=input_id, layer="input", k=channels)).exists()
        if channels == 3:
            with Image.open(project.site / url("picture", input=input_id)) as image:
                assert image.mode == "RGB"
                assert np.array_equal(np.asarray(image).transpose(2, 0, 1), pixels), file
        else:
            with Image.open(project.site / url("map", input=input_id, layer="input", k=0)) as image:
                assert np.array_equal(np.asarray(image), pixels[0]), file


def test_the_page_names_the_dataset_its_shape_and_classes(project):
    html = (project.site / "index.html").read_text("utf-8")
    channels, height, width = project.dataset["input_shape"]
    name = "shapes" if project.name == "Colour" else "MNIST"
    assert f"On {name}" in html
    assert f"Images of {channels} × {height} × {width}, classes {', '.join(CLASSES[project.name])}." in html
    texts = json.loads((project.site / CONTRACT).read_text("utf-8"))["texts"]
    article = "a"
    assert texts["converted"] == f"converted to look like {article} {name} image: {{changes}}"
    assert texts["source_test"] == f"{name} test image {{index}}"
    first = next(iter(project.images))
    image = project.images[first]
    if project.name == "Colour":
        assert f"{first}: converted to look like a shapes image: {image.width}×{image.height} scaled to cover " \
               f"{width}×{height}, its middle cut out" in project.said
        assert texts["covered"] == "{width}×{height} scaled to cover {size}, its middle cut out"
    else:
        assert f"{first}: converted to look like a MNIST image: made grayscale, inverted (light background), " \
               f"{image.width}×{image.height} to {width}×{height}, centred" in project.said
        assert "covered" not in texts


@pytest.mark.parametrize("project", ["Colour"], indirect=True)
def test_a_test_input_is_the_datasets_own_image(project):
    """`- test: 7` of a folder dataset is its test image 7 (torchvision's ImageFolder order), exported as
    an RGB PNG with its label, and published with the class name and the dataset as its source."""
    from torchvision.datasets import ImageFolder
    picture, label = ImageFolder(f"{project.spec}/test")[7]
    with Image.open(project.content / "inputs" / "test-00007.png") as image:
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image), np.asarray(picture))
        assert image.text["layerwise:label"] == str(label)
    summaries = json.loads((project.site / urls_of(project.site)("inputs")).read_text("utf-8"))
    entry = next(entry for entry in summaries if entry["id"] == "test-00007")
    assert (entry["label"], entry["label_name"], entry["source"]) == (label, CLASSES["Colour"][label],
                                                                       "shapes test image 7")


# --- refusals -------------------------------------------------------------------------------------

def write_project(folder, name, **metrics_changes):
    torch.manual_seed(0)
    model = getattr(colour_build, name)()
    torch.save(model.state_dict(), folder / "net.pt")
    metrics = dict(dict(test_accuracy=0.5, classes=CLASSES.get(name, ["a", "b", "c"]),
                        normalisation=NORMALISATION.get(name)), **metrics_changes)
    (folder / "net.json").write_text(json.dumps(metrics), encoding="utf-8")
    return f"tests.models.colour_build:{name}", folder / "net.pt", folder / "net.json"


def refusal(*args):
    with pytest.raises(BuildError) as caught:
        nets.load(*args)
    return str(caught.value)


def test_two_channels_are_refused(tmp_path):
    said = refusal(*write_project(tmp_path, "TwoChannels", normalisation={"mean": [0.5, 0.5], "std": [1, 1]}))
    assert "takes inputs of shape (2, 20, 20); layerwise shows images of 1 or 3 channels" in said


def test_a_normalisation_of_other_channels_is_refused(tmp_path):
    said = refusal(*write_project(tmp_path, "Colour", normalisation={"mean": [0.5], "std": [0.2]},
                                  dataset=dict(spec="CIFAR10", input_shape=[3, 32, 32])))
    assert "the normalisation's mean has 1 entries but the model's images have 3 channels" in said


def test_a_dataset_of_another_shape_is_refused(tmp_path):
    said = refusal(*write_project(tmp_path, "WideGray", dataset=dict(spec="MNIST", input_shape=[1, 28, 28])))
    assert "the metrics' dataset MNIST has images of shape 1×28×28 but tests.models.colour_build:WideGray " \
           "takes 1×20×36" in said
    said = refusal(*write_project(tmp_path, "WideGray"))  # no record: FashionMNIST, 1 × 28 × 28
    assert "dataset FashionMNIST (they name none: metrics written before datasets were recorded) has images of " \
           "shape 1×28×28 but tests.models.colour_build:WideGray takes 1×20×36" in said


@pytest.mark.parametrize("normalisation, dataset", [
    ({"mean": [0.5, "x", 0.3], "std": [0.2, 0.2, 0.2]}, None),
    ({"mean": [0.5, 0.4, 0.3], "std": [0.2, 0, 0.2]}, None),
    ({"mean": [], "std": []}, None),
    (NORMALISATION["Colour"], dict(spec="CIFAR10", input_shape=[3, 32])),
    (NORMALISATION["Colour"], dict(spec="CIFAR10", input_shape=[3, 32, 32], upload={"crop": "yes"})),
])
def test_metrics_that_are_not_what_they_must_be_are_refused(tmp_path, normalisation, dataset):
    changes = {} if dataset is None else dict(dataset=dataset)
    said = refusal(*write_project(tmp_path, "Colour", **dict(changes, normalisation=normalisation)))
    key = "normalisation" if dataset is None else "dataset"
    assert f"'{key}' must be " in said
