"""The page's arithmetic on a colour, non-square image, in a real Chromium, against PyTorch (float64,
tests/oracle.py): tests/models/colour_wide.py's network, 3 × 24 × 40 images into 4 classes, with
random weights.

- the page's own modules (static/forward.js, backward.js, maths.js, contributions.js), imported in a
  page of the theme's folder as tests/test_page_operations.py does: the uint8 pixels normalised per
  channel, every layer's output and the gradient of seed · output with respect to every layer (±1e-5),
  the exact attribution adding up, split per pixel and per channel, and the first convolution's
  explanation, one term per colour channel (patch × kernel = products), adding up to the value;
- a built colour article (its metrics name the classes, the shape and a per-channel normalisation):
  the inspector works out a first-convolution value channel by channel, red, green and blue, each
  channel's sum of products then the bias, the printed numbers adding up to the printed value, beside
  the input patch in colour, while conv2 keeps one button per map; conv1's filters are colour pictures
  of their weights beside the per-channel tiles; the attribution figure splits its sum by channel and
  shows one channel's share on request, for a built input and for an upload (computed in the page);
  the overview draws the image's channels and the wide maps; the dataset examples and the made image
  are drawn in colour from their atlases.

    .venv/bin/python -m pytest tests/test_colour_arithmetic.py -s
"""
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from builder import contract as build_contract
from oracle import adds_up, conv_terms, declared, spans, total
from reader_helpers import assert_prints, error_of
from tests.models.colour_wide import CLASSES, ColourWide

TOLERANCE = 1e-5
SHAPE = ColourWide.input_shape  # channels, rows, columns: wider than tall
NORMALISATION = dict(mean=[0.52, 0.44, 0.31], std=[0.25, 0.21, 0.28])  # per channel, as network.json has it
COLOURS = ("red", "green", "blue")


def random_model(seed=3):
    torch.manual_seed(seed)
    return ColourWide().eval()


def pixels_of(seed=4):
    """A colour image, uint8 (C, H, W): a smooth picture of its own in each channel, with noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SHAPE[1], 0:SHAPE[2]]
    planes = [128 + 100 * np.sin(rows / 4 + c) * np.cos(cols / (5 + 2 * c)) for c in range(SHAPE[0])]
    return np.clip(np.stack(planes) + rng.normal(0, 20, SHAPE), 0, 255).round().astype(np.uint8)


def normalised(pixels):
    """(p ÷ 255 − mean[c]) ÷ std[c], written here in float64 from the formula."""
    x = torch.as_tensor(pixels, dtype=torch.float64) / 255
    mean, std = (torch.tensor(NORMALISATION[key], dtype=torch.float64)[:, None, None] for key in ("mean", "std"))
    return (x - mean) / std


# --- the page's modules, against torch ------------------------------------------------------------

RUN = """async ({ network, pixels, weights, seed, at }) => {
  const base = document.baseURI;
  const { Tensor } = await import(new URL('static/data.js', base));
  const { run, normalise } = await import(new URL('static/forward.js', base));
  const { gradient, attribution } = await import(new URL('static/backward.js', base));
  const { explain } = await import(new URL('static/maths.js', base));
  const { channelOf, contributionsOf, perPixel } = await import(new URL('static/contributions.js', base));
  const tensor = ([shape, values]) => new Tensor(shape, Float32Array.from(values));
  const named = Object.fromEntries(Object.entries(weights).map(([id, tensors]) =>
    [id, Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tensor(t)]))]));
  const layers = network.layers, image = layers[0], last = layers.at(-1).id;
  const x = normalise(Uint8Array.from(pixels), image.shape, network.normalisation);
  const outputs = run(layers, x, named);
  const grads = gradient(layers, outputs, named, last, Float64Array.from(seed));
  const parts = attribution(network, x, named, Float64Array.from(seed));
  const contributions = contributionsOf(x.values, parts.gradient);
  const channels = image.shape[0];
  return {
    outputs: Object.fromEntries(Object.entries(outputs).map(([id, t]) => [id, Array.from(t.values)])),
    grads: Object.fromEntries(Object.entries(grads).map(([id, g]) => [id, Array.from(g)])),
    parts: { sum: parts.sum, constant: parts.constant, value: parts.value, exact: parts.exact },
    contributions: Array.from(contributions),
    perPixel: Array.from(perPixel(contributions, channels)),
    channels: [...Array(channels).keys()].map(c => Array.from(channelOf(contributions, channels, c))),
    explained: explain(network, outputs, named.conv1, 'conv1', at),
    input: explain(network, outputs, {}, 'input', [1, 3, 7]),
  };
}"""


def described(model):
    """The model's network.json as the build writes it, and its tensors by layer (float32)."""
    from builder import datafiles, network as networks
    layers = networks.describe(model)
    module = lambda layer: model.get_submodule(layer.module) if layer.module else None
    record = datafiles.network_record(SimpleNamespace(layers=layers, module=module, name="ColourWide",
                                                      classes=list(CLASSES), normalisation=NORMALISATION,
                                                      weights_sha256=""))
    tensors = {layer.id: {name: value.detach().numpy() for name, value in module(layer).named_parameters()}
               for layer in layers if module(layer) is not None and any(True for _ in module(layer).parameters())}
    return record, tensors


@pytest.fixture(scope="module")
def ran(theme_page):
    model = random_model()
    record, tensors = described(model)
    pixels = pixels_of()
    seed = np.random.default_rng(6).normal(size=len(CLASSES))
    at = [2, 11, 0]  # a value of the first convolution whose window reaches past the left edge
    page = theme_page.evaluate(RUN, dict(
        network=record, pixels=pixels.ravel().tolist(), seed=seed.tolist(), at=at,
        weights={id: {name: [list(v.shape), v.ravel().tolist()] for name, v in t.items()} for id, t in tensors.items()}))
    return SimpleNamespace(model=model.double(), record=record, tensors=tensors, pixels=pixels, seed=seed, at=at,
                           page=page)


def torch_layers(record, tensors, x):
    """Every layer's output from the image x (C, H, W), float64, each layer the oracle's declared operation."""
    values = {"input": x[None]}
    for layer in record["layers"][1:]:
        weights = {name: torch.as_tensor(value, dtype=torch.float64) for name, value in tensors.get(layer["id"], {}).items()}
        values[layer["id"]] = declared(layer["type"], layer["settings"], [values[i] for i in layer["inputs"]], weights)
    return values


def test_the_pixels_are_normalised_per_channel(ran):
    """The page's input is (p ÷ 255 − mean[c]) ÷ std[c], each channel with its own mean and std, to float32."""
    expected = normalised(ran.pixels).numpy()
    got = np.asarray(ran.page["outputs"]["input"]).reshape(SHAPE)
    assert np.abs(got - expected).max() <= 1e-6 * np.abs(expected).max()
    first = lambda c: (ran.pixels[c, 0, 0] / 255 - NORMALISATION["mean"][c]) / NORMALISATION["std"][c]
    assert [round(float(got[c, 0, 0]), 5) for c in range(3)] == [round(first(c), 5) for c in range(3)]


def test_every_layer_and_its_gradient_equal_pytorchs(ran):
    """Each layer's output, and the gradient of seed · output with respect to each, against float64 torch
    on the page's own float32 input, and against the model itself."""
    x = torch.as_tensor(np.asarray(ran.page["outputs"]["input"]).reshape(SHAPE), dtype=torch.float64)
    x.requires_grad_(True)
    values = torch_layers(ran.record, ran.tensors, x)
    for value in values.values():
        value.retain_grad()
    last = ran.record["layers"][-1]["id"]
    (values[last][0] * torch.as_tensor(ran.seed)).sum().backward()
    for layer in ran.record["layers"]:
        id = layer["id"]
        assert error_of(ran.page["outputs"][id], values[id][0].detach()) <= TOLERANCE, f"{id} forward"
        assert error_of(ran.page["grads"][id], values[id].grad[0]) <= TOLERANCE, f"{id} gradient"
    with torch.no_grad():
        own = ran.model(x.detach()[None])[0]
    assert error_of(ran.page["outputs"][last], own) <= TOLERANCE, "the model's own forward()"
    assert list(ran.record["layers"][0]["shape"]) == list(SHAPE)


def test_the_attribution_adds_up_per_pixel_and_per_channel(ran):
    """value × gradient for every value of every channel; summed over the channels per pixel, or taken
    channel by channel, the same total; the total plus the constant is seed · output, and the sum is
    torch's slope of f(t·x) in t (the network is piecewise linear)."""
    parts, page = ran.page["parts"], ran.page
    x = torch.as_tensor(np.asarray(page["outputs"]["input"]).reshape(SHAPE), dtype=torch.float64)
    assert parts["exact"] is True
    with torch.no_grad():
        value_at = lambda t: float((ran.model(t * x[None])[0] * torch.as_tensor(ran.seed)).sum())
        slope, value = (value_at(1.001) - value_at(0.999)) / 0.002, value_at(1.0)
    assert abs(parts["sum"] - slope) <= 1e-5 * max(1.0, abs(slope)), (parts["sum"], slope)
    assert abs(parts["sum"] + parts["constant"] - value) <= 1e-5 * max(1.0, abs(value))

    x.requires_grad_(True)
    (ran.model(x[None])[0] * torch.as_tensor(ran.seed)).sum().backward()
    expected = (x * x.grad).detach().numpy()  # (C, H, W): each value's contribution
    assert error_of(page["contributions"], expected) <= TOLERANCE
    assert error_of(page["perPixel"], expected.sum(0)) <= TOLERANCE, "each pixel's channels summed"
    for c in range(3):
        assert error_of(page["channels"][c], expected[c]) <= TOLERANCE, f"the {COLOURS[c]} channel's share"
    assert abs(sum(page["perPixel"]) - parts["sum"]) <= 1e-9 * max(1.0, abs(parts["sum"]))


def test_the_first_convolution_is_explained_channel_by_channel(ran):
    """conv1's explanation has one term per colour channel, each the channel's patch × kernel (zero
    beyond the edge) as torch reads them, and the terms plus the bias are the value."""
    e, (k, r, c) = ran.page["explained"], ran.at
    x = np.asarray(ran.page["outputs"]["input"], np.float64).reshape(SHAPE)
    conv1 = next(layer for layer in ran.record["layers"] if layer["id"] == "conv1")
    weight = torch.as_tensor(ran.tensors["conv1"]["weight"], dtype=torch.float64)
    expected = conv_terms(x, weight, conv1["settings"], k, r, c)
    assert [term["channel"] for term in e["terms"]] == [0, 1, 2]
    for term, (channel, patch, kernel, products) in zip(e["terms"], expected):
        assert np.allclose(term["patch"], patch, atol=1e-7) and np.allclose(term["kernel"], kernel, atol=1e-7)
        assert np.allclose(term["products"], products, atol=1e-6), f"channel {channel}'s products"
        assert abs(term["sum"] - products.sum()) <= 1e-6, f"channel {channel}'s sum"
    assert any(any(row) for row in e["terms"][0]["padded"]), "the window should reach past the image's edge"
    value = ran.page["outputs"]["conv1"][int(np.ravel_multi_index((k, r, c), conv1["shape"]))]
    assert abs(sum(term["sum"] for term in e["terms"]) + e["bias"] - value) <= 1e-5
    assert abs(e["result"] - value) <= 1e-5


# --- the inspector of a built colour article ------------------------------------------------------

ARTICLE = """---
model: tests.models.colour_wide:ColourWide
checkpoint: {checkpoint}
---

# A colour network, not square

![Every map at a glance](overview:)

![The image, three channels](layer:input)

![The first convolution reads all three](layer:conv1)

![The second convolution](layer:conv2)

![What each pixel adds to a logit](attribution:)

![What each map of the first convolution looks for](examples:conv1)
"""


def write_picture(path, seed):
    """A colour PNG of the input's own size (40 columns, 24 rows), so no conversion changes its pixels."""
    from PIL import Image
    Image.fromarray(pixels_of(seed).transpose(1, 2, 0), "RGB").save(path)


@pytest.fixture(scope="module")
def colour_article(tmp_path_factory):
    """The article built with the CLI from a random-weights ColourWide and two colour pictures; its
    metrics name the data's classes, shape and per-channel normalisation; the dataset examples (what
    `layerwise examples` keeps beside the checkpoint) are of 24 colour test images made here."""
    from builder import examples, network as nets
    from conftest import random_weights_project, run_cli
    from model import examples_file
    from oracle import published_outputs
    folder = tmp_path_factory.mktemp("colour-wide")
    content, metrics, images = random_weights_project(random_model(), folder, ARTICLE)
    for image in images:  # the FashionMNIST pictures it copied: colour ones instead
        (content / "inputs" / image.name).unlink()
    for n in range(2):
        write_picture(content / "inputs" / f"colour-{n}.png", seed=10 + n)
    metrics.update(classes=list(CLASSES), normalisation=NORMALISATION, dataset=dict(
        spec="ColourWide pictures", input_shape=list(SHAPE), train_images=240, test_images=60,
        upload=dict(invert=False, crop=False)))
    metrics.pop("confusion_matrix", None)
    (folder / "net.json").write_text(json.dumps(metrics), encoding="utf-8")
    tests = np.stack([pixels_of(100 + n) for n in range(24)])
    net = nets.load("tests.models.colour_wide:ColourWide", folder / "net.pt", folder / "net.json")
    examples_file.write(examples_file.path_for(folder / "net.pt"),
                        examples.compute(net, tests, np.arange(len(tests)) % len(CLASSES)))
    process = run_cli("build", "--content", content, "--out", folder / "site")
    assert process.returncode == 0, process.stderr
    site = folder / "site"
    network = json.loads((site / "data" / "network.json").read_text(encoding="utf-8"))
    return SimpleNamespace(site=site, network=network, first="colour-0",
                           outputs=published_outputs(site, network, "colour-0"))


def test_the_inspector_works_out_a_first_convolution_value_channel_by_channel(colour_article, page, serve):
    """A conv1 value whose window reaches past the image's right edge: red, green and blue each show
    their patch × kernel = products and their sum, then 'Red a + green b + blue c + bias d = value';
    each printed number is torch's (conv2d on the published input and weights, one channel at a time),
    the printed terms add up to the printed value, and the input patch beside it is painted in the
    image's colours. conv2, reading maps rather than the image, keeps one button per map."""
    from oracle import conv_at, conv_weights, window
    from reader_helpers import header_value, inspector, layer_of, said, select, tables
    site, network, outputs = colour_article.site, colour_article.network, colour_article.outputs
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(serve(site).url + "index.html")
    layer = layer_of(network, "conv1")
    (kh, kw), (ph, pw), (sh, sw) = layer["kernel_size"], layer["padding"], layer["stride"]
    k, r, c = 3, 5, SHAPE[2] - 1
    select(page, network, "conv1", k, r, c)
    panel = inspector(page, "conv1")
    weight, bias = conv_weights(site, layer)
    parts = [conv_at(site, layer, outputs["input"], k, r, c, channels=[ch]) for ch in range(3)]
    value = conv_at(site, layer, outputs["input"], k, r, c)

    line = said(panel, r"Red (\S+) \+ green (\S+) \+ blue (\S+) \+ bias (\S+) = (\S+), the value shown")
    for ch, part in enumerate(parts):
        assert_prints(line.group(ch + 1), part, f"the {COLOURS[ch]} channel's sum")
    assert_prints(line.group(4), float(bias[k]), "bias")
    assert_prints(line.group(5), value, "the value, against torch's conv2d on the published numbers")
    adds_up(total(spans(line.groups()[:4])), line.group(5), "the channels' sums and the bias")
    assert_prints(header_value(page, "conv1"), outputs["conv1"][k, r, c], "conv1's published value")

    shown = tables(panel)
    assert [t["caption"] for t in shown] == [caption for colour in COLOURS
                                             for caption in (f"input, {colour}", f"kernel, {colour}", "products")]
    sums = [match for match in panel.inner_text().split("\n") if match.startswith(f"Sum of the {kh * kw} products")]
    assert len(sums) == 3, sums
    for ch in range(3):
        patch = window(outputs["input"][ch], r * sh - ph, c * sw - pw, kh, kw)
        kernel = weight[k, ch].numpy()
        for name, grid, expected in (("patch", shown[3 * ch], patch), ("kernel", shown[3 * ch + 1], kernel),
                                     ("products", shown[3 * ch + 2], patch * kernel)):
            assert np.array(grid["rows"]).shape == (kh, kw), name
            for u in range(kh):
                for v in range(kw):
                    assert_prints(grid["rows"][u][v], expected[u, v], f"{COLOURS[ch]} {name}[{u}][{v}]")
        assert_prints(sums[ch].rsplit(" ", 1)[1], parts[ch], f"the {COLOURS[ch]} products' sum")
    assert [row[-2:] for row in shown[0]["rows"]] == [["0", "0"]] * kh, "past the right edge: zero padding"

    painted = panel.locator(".lw-field canvas").evaluate(
        "canvas => Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data)")
    mean, std = (np.array(NORMALISATION[key])[:, None, None] for key in ("mean", "std"))
    colours = np.rint((outputs["input"] * std + mean) * 255).transpose(1, 2, 0)
    assert np.array_equal(np.array(painted).reshape(SHAPE[1], SHAPE[2], 4)[..., :3], colours)

    k2 = 1
    select(page, network, "conv2", k2, 4, 3)
    expect(inspector(page, "conv2").locator("button[data-channel]")).to_have_count(layer_of(network, "pool1")["shape"][0])
    assert errors == []


def test_the_filters_reading_the_colour_image_are_shown_in_colour(colour_article, page, serve):
    """Each filter of conv1 shows one colour picture beside its per-channel tiles: channel c of pixel (i, j)
    is its weight on that colour there, around mid-gray, on the filter's own scale (written here from
    the published weights: rint((w ÷ max |w| + 1) × 127.5)); conv2, reading maps, has tiles only."""
    from PIL import Image
    from oracle import conv_weights
    from reader_helpers import layer_of
    site, network = colour_article.site, colour_article.network
    contract = json.loads((site / "data" / "contract.json").read_text(encoding="utf-8"))
    page.goto(serve(site).url + "index.html")
    layer = layer_of(network, "conv1")
    weight, _ = conv_weights(site, layer)
    kernels = page.locator("#fig-conv1 .lw-kernel")
    expect(kernels).to_have_count(weight.shape[0])
    for k in range(weight.shape[0]):
        pictures = kernels.nth(k).locator("img")
        expect(pictures).to_have_count(2)
        colour = pictures.first
        src = contract["urls"]["kernel_colour"].format(layer="conv1", k=k)
        expect(colour).to_have_attribute("src", src)
        assert (colour.get_attribute("height"), colour.get_attribute("width")) == tuple(map(str, layer["kernel_size"]))
        assert "red, green and blue" in colour.get_attribute("alt")
        expect(pictures.nth(1)).to_have_attribute("src", contract["urls"]["kernel"].format(layer="conv1", k=k))
        w = weight[k].numpy()
        expected = np.rint((w / np.abs(w).max() + 1) * 127.5).transpose(1, 2, 0)
        assert np.array_equal(np.asarray(Image.open(site / src).convert("RGB")), expected), f"filter {k + 1}"
    expect(page.locator("#fig-conv2 .lw-kernel-colour")).to_have_count(0)
    expect(page.locator("#fig-conv2 .lw-kernel img")).to_have_count(layer_of(network, "conv2")["shape"][0])


def test_the_attribution_of_a_colour_image_sums_its_channels_and_shows_each_share(colour_article, page, serve):
    """The attribution figure's sum of contributions is split by channel, red + green + blue, each
    Σ x·∂logit/∂x over its values as autograd gives them (the model with the same weights, float64, on the
    published input); the printed shares add up to the printed sum. Choosing a channel keeps it in the
    URL, and a pixel's line then gives that channel's value × gradient; otherwise each channel's."""
    from reader_helpers import said
    site, outputs = colour_article.site, colour_article.outputs
    x = torch.as_tensor(outputs["input"], dtype=torch.float64)[None].requires_grad_(True)
    logits = random_model().double()(x)[0]
    c = int(logits.argmax())
    logits[c].backward()
    shares = (x * x.grad)[0].detach().numpy()  # (C, H, W)

    page.goto(serve(site).url + "index.html")
    figure = page.locator(".lw-figure-attribution")
    figure.scroll_into_view_if_needed()
    line = said(figure.locator(".lw-attr-channels"),
                r"by channel, Σ contributions = red (\S+) \+ green (\S+) \+ blue (\S+) [=≈] (\S+)\.")
    for ch in range(3):
        assert_prints(line.group(ch + 1), float(shares[ch].sum()), f"the {COLOURS[ch]} channel's share")
    assert_prints(line.group(4), float(shares.sum()), "Σ contributions")
    adds_up(total(spans(line.groups()[:3])), line.group(4), "the channels' shares")
    summed = said(figure.locator(".lw-attr-sum"), r"Σ contributions \((\S+)\)").group(1)  # its own sum's decimals
    assert_prints(summed, float(shares.sum()), "Σ contributions in the sum line")

    figure.locator(".lw-attr-channels select").select_option("2")
    expect(page).to_have_url(re.compile(r"[#&]channel=2(&|$)"))
    figure.locator(".lw-attr-surface canvas").first.focus()
    pixel = said(figure.locator(".lw-attr-pixel"), r"^green: Row 1, column 1: value (\S+) × gradient (\S+) = (\S+)")
    assert_prints(pixel.group(1), float(outputs["input"][1, 0, 0]), "the green value")
    assert_prints(pixel.group(2), float(x.grad[0, 1, 0, 0]), "its gradient")
    figure.locator(".lw-attr-channels select").select_option("")
    expect(figure.locator(".lw-attr-pixel")).to_contain_text("Row 1, column 1: red ")
    page.goto(page.url.split("#")[0] + "#channel=4")  # a channel the image has not: named, and let go
    expect(page.locator(".lw-link-said")).to_have_text(build_contract.text(
        "link_unusable", name="channel", value="4", why=build_contract.text("link_channel", count=3)))
    expect(figure.locator(".lw-attr-channels select")).to_have_value("")
    expect(page).not_to_have_url(re.compile("channel="))


def test_the_overview_draws_the_colour_images_channels_and_wide_maps(colour_article, page, serve):
    """The overview has a map per channel of the image and per map of each layer, each as wide as its
    layer's (40 × 24, 20 × 12, …); pointing at a conv1 map says it reads the red, green and blue
    channels, which are outlined, and pointing at a channel names its colour."""
    site, network = colour_article.site, colour_article.network
    page.goto(serve(site).url + "index.html")
    overview = page.locator(".lw-figure-overview")
    overview.scroll_into_view_if_needed()
    for layer in network["layers"][:-1]:
        buttons = overview.locator(f".lw-glance-map[data-layer='{layer['id']}']")
        expect(buttons).to_have_count(layer["shape"][0] if len(layer["shape"]) == 3 else 1)
        if len(layer["shape"]) == 3:
            canvas = buttons.first.locator("canvas")
            assert (canvas.get_attribute("height"), canvas.get_attribute("width")) == tuple(map(str, layer["shape"][1:]))
    overview.locator('.lw-glance-map[data-layer="conv1"]').nth(2).hover()
    expect(overview.locator(".lw-glance-said")).to_have_text(
        "conv1, map 3 is computed from the red, green and blue channels of input.")
    expect(overview.locator('.lw-glance-map[data-layer="input"].is-source')).to_have_count(3)
    overview.locator('.lw-glance-map[data-layer="input"]').nth(1).hover()
    expect(overview.locator(".lw-glance-said")).to_have_text("input, its green channel is the image itself.")


def test_the_dataset_examples_and_made_images_are_drawn_in_colour(colour_article, page, serve):
    """A conv1 map's panel draws its nine examples and its made image from the colour atlases, pixel for
    pixel as the atlas PNGs hold them (read here with Pillow), in colour: red, green and blue differ."""
    from PIL import Image
    site = colour_article.site
    urls = json.loads((site / "data" / "contract.json").read_text(encoding="utf-8"))["urls"]
    record = json.loads((site / urls["examples_layer"].format(layer="conv1")).read_text(encoding="utf-8"))
    page.goto(serve(site).url + "index.html")
    figure = page.locator("#fig-conv1")
    figure.scroll_into_view_if_needed()
    figure.locator(".lw-examples-ask").click()
    tiles = figure.locator(".lw-examples-list canvas")
    expect(tiles).to_have_count(record["count"])
    expect(figure.locator(".lw-made canvas")).to_have_count(1)
    drawn = lambda canvas: np.array(canvas.evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"), np.uint8)
    (h, w), unit = record["tile"], record["units"][0]
    atlas = np.asarray(Image.open(site / urls["examples_atlas"].format(layer="conv1", part=unit["atlas"])).convert("RGB"))
    for i, (x, y) in enumerate(unit["tiles"]):
        got = drawn(tiles.nth(i)).reshape(h, w, 4)[..., :3]
        assert np.array_equal(got, atlas[y:y + h, x:x + w]), f"example {i + 1}"
    assert (atlas[..., 0] != atlas[..., 1]).any(), "the atlas is not in colour"
    index = json.loads((site / urls["featurevis"]).read_text(encoding="utf-8"))
    entry = next(layer for layer in index["layers"] if layer["id"] == "conv1")
    made = np.asarray(Image.open(site / urls["featurevis_atlas"].format(layer="conv1")).convert("RGB"))
    (mh, mw), (x, y) = entry["tile"], entry["tiles"][0]
    got = drawn(figure.locator(".lw-made canvas")).reshape(mh, mw, 4)[..., :3]
    assert np.array_equal(got, made[y:y + mh, x:x + mw]) and (got[..., 0] != got[..., 2]).any()


def test_an_uploaded_colour_pictures_attribution_is_computed_in_the_page_as_autograd_does(
        colour_article, page, serve, tmp_path):
    """A colour picture of the input's size, uploaded: the page converts it (unchanged), computes its
    gradients itself (backward.js), and the figure's channel shares, sum, constant and logit are
    autograd's on the picture normalised per channel (float64 here)."""
    from reader_helpers import said
    write_picture(tmp_path / "mine.png", seed=42)
    x = normalised(pixels_of(42))[None].requires_grad_(True)
    logits = random_model().double()(x)[0]
    c = int(logits.argmax())
    logits[c].backward()
    shares, logit = (x * x.grad)[0].detach().numpy(), float(logits[c].detach())

    page.goto(serve(colour_article.site).url + "index.html")
    page.locator(".lw-upload input").set_input_files(tmp_path / "mine.png")
    figure = page.locator(".lw-figure-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-name").first).to_have_text(CLASSES[c])
    shown = said(figure.locator(".lw-attr-sum"), rf"logit of {re.escape(CLASSES[c])} \((\S+)\)").group(1)
    assert_prints(shown, logit, "the logit")
    line = said(figure.locator(".lw-attr-channels"),
                r"by channel, Σ contributions = red (\S+) \+ green (\S+) \+ blue (\S+) [=≈] (\S+)\.")
    for ch in range(3):
        assert_prints(line.group(ch + 1), float(shares[ch].sum()), f"the {COLOURS[ch]} channel's share")
    assert_prints(line.group(4), float(shares.sum()), "Σ contributions")
    constant = said(figure.locator(".lw-attr-sum"), r"constant \((\S+)\)").group(1)
    assert_prints(constant, logit - float(shares.sum()), "the constant")


def test_an_input_value_is_explained_with_its_channels_mean_and_std(ran):
    """The image's green value at (3, 7) is worked out from its brightness and the green channel's mean
    and std: (p ÷ 255 − mean[1]) ÷ std[1]."""
    e = ran.page["input"]
    assert e["what"] == "green value"
    brightness, mean, std = (piece for piece in e["working"] if isinstance(piece, (int, float)))
    assert abs(brightness - ran.pixels[1, 3, 7] / 255) <= 1e-6
    assert (mean, std) == (NORMALISATION["mean"][1], NORMALISATION["std"][1])
    assert abs(e["result"] - (brightness - mean) / std) <= 1e-6
