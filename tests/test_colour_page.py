"""The reader's page for a colour network and a non-square one, in a real Chromium: a network of 3 × 32 × 32 images
(tests/models/own_data.py's ColourNet) trained for one epoch on tests/datasets.py's colour folder, so
the site has every view (the mistakes browser, the Learning slider), built with two test inputs.

- an upload is converted as Pillow converts it under the site's rule (written out here: on white,
  colour kept, scaled to cover and its middle cut out, no inversion); the page's forward pass on
  those pixels equals PyTorch's in float64 (tests/oracle.py), every layer, ±1e-5; the input figure
  paints them in colour and the status line names PyTorch's answer;
- there is no drawing pad, and a link to a drawing says it cannot be read;
- the input figure shows the picture in colour (the dataset's own test image, as Pillow reads it)
  above a carousel of its three channels, and follows the chosen input; a value of the green channel
  is worked out with the green mean and std;
- the mistakes browser's test images are drawn in colour (the dataset's own), and one of them
  becomes the input; Compare shows the second input's picture; the Learning slider runs the colour
  network at a moment of training as PyTorch does;
- a grayscale network of 20 × 36 images (rows × columns; tests/models/own_data.py's GrayNet, random
  weights): its drawing pad has the input's proportions, a stroke across it draws across the 36
  columns, and the page's forward pass on the drawing is PyTorch's.

    .venv/bin/python -m pytest tests/test_colour_page.py
"""
import base64
import json
import re
import zlib
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from playwright.sync_api import expect

import datasets
from conftest import run_main, urls_of
from oracle import forward, steps_of
from reader_helpers import assert_prints, inspector, said, select
from test_own_input import CANVAS_RGB, FORWARD, settled, stroke
from tests.models.own_data import GRAY_CLASSES, ColourNet, GrayNet

SHAPE = ColourNet.input_shape
TOLERANCE = 1e-5
ARTICLE = """---
model: tests.models.own_data:ColourNet
checkpoint: {checkpoint}
inputs:
  - test: 0
  - test: 31
---

## The image

![The input image](layer:input)

![The first convolution](layer:conv1)

![The scores](layer:fc)

![Where it goes wrong](chart:confusion)

![Its first filters as it learnt](training:conv1)
"""

# The pixels an <img> shows, (H, W, 3) bytes, once it has loaded.
IMAGE_RGB = """async image => {
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data.filter((_, i) => i % 4 !== 3));
}"""


@pytest.fixture(scope="module")
def colour_site(tmp_path_factory):
    """The trained colour network's article, built; its model (float64) and the dataset's test images."""
    folder = tmp_path_factory.mktemp("colour-page")
    shapes = datasets.colour_folder(folder / "shapes")
    checkpoint = folder / "net.pt"
    status, said = run_main("train", "--model", "tests.models.own_data:ColourNet", "--dataset", shapes,
                            "--checkpoint", checkpoint, "--epochs", "1", "--device", "cpu")
    assert status == 0, said
    content = folder / "content"
    content.mkdir()
    (content / "article.md").write_text(ARTICLE.format(checkpoint=checkpoint), encoding="utf-8")
    status, said = run_main("build", "--content", content, "--out", folder / "site")
    assert status == 0, said
    model = ColourNet()
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    images, labels, classes = datasets.read_folder(shapes, "test")
    metrics = json.loads(checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    return SimpleNamespace(site=folder / "site", url=urls_of(folder / "site"), checkpoint=checkpoint,
                           model=model.double().eval(), images=images, labels=labels, classes=classes,
                           normalisation=metrics["normalisation"])


def opened(page, serve, colour_site, fragment=""):
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(serve(colour_site.site).url + "index.html" + fragment)
    expect(page.locator("#fig-conv1 .lw-counter")).to_be_visible()
    return page


def normalised(pixels, normalisation):
    """uint8 (C, H, W) → float64 (1, C, H, W): (p ÷ 255 − mean[c]) ÷ std[c], the article's formula."""
    x = torch.as_tensor(np.array(pixels), dtype=torch.float64) / 255
    mean, std = (torch.tensor(normalisation[key], dtype=torch.float64)[:, None, None] for key in ("mean", "std"))
    return ((x - mean) / std)[None]


def torch_layers(model, normalisation, pixels, state=None):
    """Every layer's output in float64, flattened, by layer id."""
    state = state or {name: tensor.double() for name, tensor in model.state_dict().items()}
    outputs = forward(steps_of(model), state, normalised(pixels, normalisation))
    return {name: value[0].numpy().ravel() for name, value in outputs.items()}


def assert_same(page_layers, expected, what):
    for layer, values in expected.items():
        got = np.array(page_layers[layer], dtype=np.float64)
        error = np.abs(got - values) / np.maximum(1.0, np.abs(values))
        assert error.max() <= TOLERANCE, f"{what}, {layer}: off by {error.max():.2e} at {int(error.argmax())}"


def photo(size=(57, 40)):
    """A colour picture of another shape than the input's (wider), on a light background."""
    image = Image.new("RGB", size, (235, 225, 200))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.1, h * 0.2, w * 0.5, h * 0.9), fill=(200, 30, 40))
    draw.rectangle((w * 0.55, h * 0.1, w * 0.9, h * 0.6), fill=(20, 60, 190))
    for x in range(0, w, 5):
        draw.line((x, 0, x + 4, h), fill=(40, 160, 60))
    return image


def pillow_cover(image, shape):
    """The site's rule written out with Pillow: on white, colour kept, no inversion, scaled (Lanczos,
    across then down) to cover the input keeping its proportions, and its middle cut out, sizes and
    offsets rounded as Python rounds. Returns uint8 (C, H, W)."""
    _, rows, cols = shape
    rgba = image.convert("RGBA")
    rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    scale = max(cols / rgb.width, rows / rgb.height)
    width, height = max(cols, round(rgb.width * scale)), max(rows, round(rgb.height * scale))
    across = rgb.resize((width, rgb.height), Image.Resampling.LANCZOS) if width != rgb.width else rgb
    both = across.resize((width, height), Image.Resampling.LANCZOS) if height != rgb.height else across
    left, top = round((width - cols) / 2), round((height - rows) / 2)
    return np.asarray(both.crop((left, top, left + cols, top + rows))).transpose(2, 0, 1)


def shown_pixels(locator, script):
    """What a canvas or image shows as uint8 (C, H, W)."""
    values = np.array(locator.evaluate(script), dtype=np.uint8)
    return values.reshape(SHAPE[1], SHAPE[2], 3).transpose(2, 0, 1)


def test_an_uploaded_colour_image_is_converted_as_pillow_does_and_runs_as_pytorch_does(colour_site, page, serve,
                                                                                        tmp_path):
    """The upload's pixels are Pillow's, byte for byte; every layer of the page's forward pass on them is
    PyTorch's; the input figure paints them in colour and the status line names PyTorch's answer. The
    page has no drawing pad, and a link to a drawing is said to be unreadable."""
    opened(page, serve, colour_site)
    expect(page.locator(".lw-draw")).to_have_count(0)
    expect(page.locator(".lw-sketch")).to_have_count(0)
    path = tmp_path / "fruit.png"
    image = photo()
    image.save(path)
    expected = pillow_cover(image, SHAPE)

    page.locator(".lw-upload input").set_input_files(path)
    expect(page.locator(".lw-upload-said")).to_contain_text(
        f"fruit.png: converted to look like a shapes image: 57×40 scaled to cover {SHAPE[2]}×{SHAPE[1]}")
    expect(page.locator(".lw-yours input")).to_be_checked()
    chip = shown_pixels(page.locator(".lw-yours canvas"), CANVAS_RGB)
    assert np.array_equal(chip, expected), f"{int((chip != expected).sum())} values differ from Pillow's"
    painted = page.locator("#fig-input .lw-picture canvas").first
    expect(painted).to_be_visible()
    expect(page.locator("#fig-input .lw-picture img").first).to_be_hidden()
    assert np.array_equal(shown_pixels(painted, CANVAS_RGB), expected), "the input figure's picture"

    [layers] = page.evaluate(FORWARD, [expected.ravel().tolist()])
    oracle = torch_layers(colour_site.model, colour_site.normalisation, expected)
    assert_same(layers, oracle, "the upload")
    answer = colour_site.classes[int(oracle["fc"].argmax())]
    expect(page.locator(".lw-status")).to_contain_text(f"Showing your image fruit.png: predicted {answer}")

    opened(page, serve, colour_site, "#input=draw.eJwDAAAAAAE")
    expect(page.locator(".lw-link-said")).to_contain_text("input=draw.eJwDAAAAAAE is not used")
    assert page.errors == []


def test_the_input_figure_shows_the_colour_picture_and_its_three_channels(colour_site, page, serve):
    """Each test input's picture is the dataset's own test image, in colour; the carousel holds its red,
    green and blue maps; choosing the other input changes them. A value of the green map is worked out
    with the green channel's own mean and std."""
    opened(page, serve, colour_site)
    figure = page.locator("#fig-input")
    expect(figure.locator(".lw-maps > li")).to_have_count(3)
    expect(figure.locator(".lw-counter")).to_have_text("1 / 3")
    for index in (0, 31):
        input_id = f"test-{index:05d}"
        page.locator(f".lw-picker input[value='{input_id}']").check()
        picture = figure.locator(".lw-picture img").first
        expect(picture).to_have_attribute("src", colour_site.url("picture", input=input_id))
        assert np.array_equal(shown_pixels(picture, IMAGE_RGB), colour_site.images[index]), input_id
        expect(figure.locator(".lw-maps > li").nth(0).locator("img")).to_have_attribute(
            "src", colour_site.url("map", input=input_id, layer="input", k=0))

    network = json.loads((colour_site.site / colour_site.url("network")).read_text(encoding="utf-8"))
    k, r, c = 1, 5, 7
    select(page, network, "input", k, r, c)
    panel = inspector(page, "input")
    expect(panel).to_contain_text("(green value − green mean) ÷ green std")
    line = said(panel, r"The pixel's green value, normalised: \((\S+) − (\S+)\) ÷ (\S+) = ([^\s,]+)")
    brightness, mean, std = colour_site.images[31][k, r, c] / 255, *(colour_site.normalisation[key][k]
                                                                       for key in ("mean", "std"))
    for text, value, what in zip(line.groups(), (brightness, mean, std, (brightness - mean) / std),
                                 ("the green value", "the green mean", "the green std", "the normalised value")):
        assert_prints(text, value, what)
    assert page.errors == []


def test_mistakes_compare_and_learning_work_with_a_colour_network(colour_site, page, serve):
    """The mistakes browser draws the dataset's own test images in colour and makes one the input;
    Compare puts the second input's picture beside the first; at the first moment of training the
    output table shows PyTorch's scores with that moment's weights."""
    from model import snapshots_file
    opened(page, serve, colour_site)
    page.locator("#fig-confusion").scroll_into_view_if_needed()  # its script loads as it comes near
    page.locator("#fig-confusion button.lw-cell").first.click()
    first = page.locator(".lw-cell-image").first
    expect(first).to_be_visible()
    index = int(first.locator("span").inner_text())
    thumbnail = shown_pixels(first.locator("canvas"), CANVAS_RGB)
    assert np.array_equal(thumbnail, colour_site.images[index]), f"test image {index}"
    first.click()
    true = colour_site.classes[int(colour_site.labels[index])]
    expect(page.locator(".lw-status")).to_contain_text(f"Showing {true}")
    painted = page.locator("#fig-input .lw-picture canvas").first
    expect(painted).to_be_visible()
    assert np.array_equal(shown_pixels(painted, CANVAS_RGB), colour_site.images[index])
    expect(page).to_have_url(re.compile(rf"input=test\.{index}\b"))
    other = page.context.new_page()  # the link reopens that test image
    other.goto(page.url)
    expect(other.locator(".lw-status")).to_have_text(page.locator(".lw-status").inner_text())
    other.close()

    page.locator(".lw-picker input[value='test-00000']").check()
    page.locator(".lw-compare-open").click()
    page.locator(".lw-compare-with").select_option("test-00031")
    second = page.locator("#fig-input .lw-picture-second")
    expect(second).to_be_visible()
    expect(second).to_have_attribute("src", colour_site.url("picture", input="test-00031"))
    expect(page.locator("#fig-conv1 .lw-pair").first).to_be_visible()
    page.locator(".lw-compare-with").select_option("")
    expect(second).to_be_hidden()

    page.locator(".lw-learning-open").click()
    slider = page.locator(".lw-training-slider")
    slider.fill("0")
    step = snapshots_file.read(snapshots_file.path_for(colour_site.checkpoint)).snapshots[0]
    state = {name: torch.from_numpy(np.asarray(array)).double() for name, array in step.state.items()}
    oracle = torch_layers(colour_site.model, colour_site.normalisation, colour_site.images[0], state)
    rows = page.locator("#fig-fc tbody tr")
    expect(page.locator(".lw-training-said")).to_contain_text(f"Step {step.step} of")
    for c in range(len(colour_site.classes)):
        assert_prints(rows.nth(c).locator(".lw-value").first.inner_text(), float(oracle["fc"][c]), f"class {c}")
    assert page.errors == []


GRAY_ARTICLE = """---
model: tests.models.own_data:GrayNet
checkpoint: {checkpoint}
---

![The input image](layer:input)

![The first convolution](layer:conv1)

![The scores](layer:fc)
"""


@pytest.fixture(scope="module")
def wide_site(tmp_path_factory):
    """A 20 × 36 grayscale network with random weights, its metrics naming a dataset of light strokes on
    black, built with one input of its size; its model (float64) and normalisation."""
    folder = tmp_path_factory.mktemp("wide-page")
    torch.manual_seed(2)
    model = GrayNet()
    torch.save(model.state_dict(), folder / "net.pt")
    normalisation = {"mean": [0.21], "std": [0.32]}
    metrics = {"test_accuracy": 0.5, "classes": list(GRAY_CLASSES), "normalisation": normalisation,
               "dataset": {"spec": "strokes", "input_shape": list(GrayNet.input_shape),
                           "upload": {"invert": True, "crop": True}}}
    (folder / "net.json").write_text(json.dumps(metrics), encoding="utf-8")
    content = folder / "content"
    (content / "inputs").mkdir(parents=True)
    picture = np.zeros(GrayNet.input_shape[1:], np.uint8)
    picture[8:12, 4:32] = 230
    Image.fromarray(picture, "L").save(content / "inputs" / "dash.png")
    (content / "article.md").write_text(GRAY_ARTICLE.format(checkpoint=folder / "net.pt"), encoding="utf-8")
    status, said = run_main("build", "--content", content, "--out", folder / "site")
    assert status == 0, said
    return SimpleNamespace(site=folder / "site", model=model.double().eval(), normalisation=normalisation)


def test_a_non_square_networks_pad_has_its_proportions_and_its_drawing_runs_as_pytorch_does(wide_site, page, serve):
    """The pad is 36 wide for 20 tall; a stroke along its middle row draws across the columns, not down
    the rows; every layer of the page's forward pass on the drawing (as its link names it) is PyTorch's."""
    _, rows, cols = GrayNet.input_shape
    opened(page, serve, wide_site)
    page.locator(".lw-draw").click()
    pad = page.locator(".lw-sketch-canvas")
    expect(pad).to_be_focused()
    box = pad.bounding_box()
    assert abs(box["width"] / box["height"] - cols / rows) < 0.05, box
    stroke(page, pad, [(0.1, 0.5), (0.9, 0.5)])
    settled(page)  # the link names the drawing on the pad
    link = parse_qs(urlsplit(page.url).fragment)["input"][0][len("draw."):]
    drawn = np.frombuffer(zlib.decompress(base64.urlsafe_b64decode(link + "=" * (-len(link) % 4)), -15), np.uint8)
    assert drawn.size == rows * cols
    drawn = drawn.reshape(1, rows, cols)
    inked_rows, inked_cols = np.nonzero(drawn[0] > 128)
    assert inked_cols.max() - inked_cols.min() >= 0.7 * cols and inked_rows.max() - inked_rows.min() <= 4, \
        "the stroke runs along a row"
    [layers] = page.evaluate(FORWARD, [drawn.ravel().tolist()])
    assert_same(layers, torch_layers(wide_site.model, wide_site.normalisation, drawn), "the drawing")
    assert page.errors == []


def test_axe_finds_nothing_on_the_colour_page_with_an_upload_compared(colour_site, new_context, serve, tmp_path):
    """With an upload painted in the input figure and a test input's picture beside it, and the
    mistakes browser open, axe-core finds no violation."""
    from test_axe import AXE, violations
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    page = opened(new_context(bypass_csp=True).new_page(), serve, colour_site)  # the CSP rightly refuses axe
    photo().save(tmp_path / "fruit.png")
    page.locator(".lw-upload input").set_input_files(tmp_path / "fruit.png")
    expect(page.locator("#fig-input .lw-picture canvas").first).to_be_visible()
    page.locator(".lw-compare-open").click()
    page.locator(".lw-compare-with").select_option("test-00031")
    expect(page.locator("#fig-input .lw-picture-second")).to_be_visible()
    page.locator("#fig-confusion").scroll_into_view_if_needed()
    page.locator("#fig-confusion button.lw-cell").first.click()
    expect(page.locator(".lw-cell-image").first).to_be_visible()
    page.add_script_tag(path=str(AXE))
    assert violations(page) == []
    assert page.errors == []


def test_the_learning_figure_shows_a_colour_convolutions_filters_in_colour(colour_site):
    """Beside the per-channel tiles, each moment's filters of conv1 as RGB pictures: channel c of a
    filter's pixel is its weight on channel c, rint((w / bound + 1) × 127.5), with one bound for the
    layer over every moment, the largest weight it ever had."""
    kept = np.load(colour_site.checkpoint.with_name("net.snapshots.npz"))
    moments = kept["state/conv1.weight"].astype(np.float64)            # (moments, K, 3, h, w)
    bound = np.abs(moments).max()
    urls = json.loads((colour_site.site / "data/contract.json").read_text(encoding="utf-8"))["urls"]
    with Image.open(colour_site.site / urls["learning_colour"].format(layer="conv1")) as image:
        shown = np.asarray(image.convert("RGB"))
    count, k, _, h, w = moments.shape
    assert shown.shape == (count * (h + 1) - 1, k * (w + 1) - 1, 3)
    for i in range(count):
        for f in range(k):
            expected = np.rint((moments[i, f] / bound + 1) * 127.5).transpose(1, 2, 0)
            assert np.array_equal(shown[i * (h + 1):i * (h + 1) + h, f * (w + 1):f * (w + 1) + w], expected), (i, f)
