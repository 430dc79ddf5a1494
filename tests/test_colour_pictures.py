"""The pictures and numbers the build derives from a colour or non-square network: attributions, dataset
examples, confusion cells and the colour pictures of filters, each against an independent computation.

Three projects with random weights (tests/models/colour_pictures.py, tests/models/own_data.py), each
built with the command line's main():
- a colour network (3 × 32 × 32, five classes) on tests/datasets.py's colour folder: its attributions
  are autograd's gradients by every input element (float64, tests/oracle.py's forward pass), each
  channel's share is Σ x·∂logit/∂x over that channel, the shares add up to the sum and the sum with the
  constant to the logit; the picture without script is the per-pixel sum over channels; the dataset
  examples are the true top nine of the test images with their colour crops; the confusion cells hold
  the test images, C × H × W bytes each; the first convolution's filters are colour pictures of their
  weights, the second's (which reads maps, not the image) are not;
- a grayscale network of 20 × 36 (rows × columns) on the grayscale folder: its examples and cells, in
  one channel, with grayscale atlases and no colour filters;
- a colour network with a tanh (3 × 20 × 28): integrated gradients from a black image normalised
  per channel, against the same integral worked out here.

    .venv/bin/python -m pytest tests/test_colour_pictures.py
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import datasets
from conftest import contract_of, once_each, run_main, urls_of
from oracle import depends_on, forward, rectangle, steps_of

SEED = 3
COUNT = 9
PROJECTS = {
    "colour": dict(spec="tests.models.colour_pictures:ColourFive", data=datasets.colour_folder,
                   mean=[0.45, 0.4, 0.5], std=[0.25, 0.2, 0.3]),
    "gray": dict(spec="tests.models.own_data:GrayNet", data=datasets.gray_folder, mean=[0.2], std=[0.3]),
    "tanh": dict(spec="tests.models.colour_pictures:TanhColour", data=None, mean=[0.5, 0.45, 0.4],
                 std=[0.3, 0.25, 0.2]),
}


# --- the projects ----------------------------------------------------------------------------------

def normalise(pixels, mean, std):
    """uint8 (N, C, H, W) → float64 (N, C, H, W): (pixel / 255 − mean[c]) / std[c], written out here."""
    x = torch.from_numpy(np.array(pixels, dtype=np.uint8)).double() / 255
    return (x - torch.tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)) / torch.tensor(std, dtype=torch.float64
                                                                                         ).view(1, -1, 1, 1)


def read_png(path, channels):
    """A PNG's pixels as uint8 (C, H, W), read with Pillow."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB" if channels == 3 else "L"))
    return pixels.transpose(2, 0, 1) if channels == 3 else pixels[None]


def make_project(name, folder):
    """Random weights, metrics naming the dataset and its per-channel normalisation, two test images as
    the article's inputs, the dataset examples and confusion images of the test split, and the site."""
    from builder import examples, network as nets
    from builder.imports import fresh
    from model import confusion_file, examples_file
    settings = PROJECTS[name]
    module, _, cls = settings["spec"].partition(":")
    torch.manual_seed(SEED)
    model = getattr(fresh(module), cls)().eval()
    shape = list(model.input_shape)
    if settings["data"]:
        images, labels, _ = datasets.read_folder(settings["data"](folder / "data"), "test")
    else:
        images = np.random.default_rng(SEED).integers(0, 256, (4, *shape), dtype=np.uint8)
        labels = np.zeros(len(images), dtype=np.int64)
    checkpoint = folder / "net.pt"
    torch.save(model.state_dict(), checkpoint)
    metrics = dict(normalisation=dict(mean=settings["mean"], std=settings["std"]), test_accuracy=0.5,
                   dataset=dict(spec=str(folder / "data"), input_shape=shape, upload=dict(invert=False, crop=False)))
    checkpoint.with_suffix(".json").write_text(json.dumps(metrics), encoding="utf-8")
    content = folder / "content"
    (content / "inputs").mkdir(parents=True)
    for n in (0, len(images) - 1):
        pixels = images[n]
        Image.fromarray(pixels.transpose(1, 2, 0) if shape[0] == 3 else pixels[0]).save(content / "inputs" /
                                                                                        f"test-{n:03d}.png")
    (content / "article.md").write_text(f"---\nmodel: {settings['spec']}\ncheckpoint: {checkpoint}\n---\n\n"
                                        "{{ summary_table }}\n", encoding="utf-8")
    if settings["data"]:  # what `layerwise examples` and `layerwise confusion` keep beside the checkpoint
        net = nets.load(settings["spec"], checkpoint, checkpoint.with_suffix(".json"))
        examples_file.write(examples_file.path_for(checkpoint), examples.compute(net, images, labels))
        with torch.no_grad():
            predicted = model(normalise(images, settings["mean"], settings["std"]).float()).argmax(1).numpy()
        confusion_file.write(confusion_file.path_for(checkpoint), confusion_file.compute(
            images, labels, predicted, net.weights_sha256, len(model.classes)))
    status, stderr = run_main("build", "--content", content, "--out", folder / "site")
    assert status == 0, stderr
    return SimpleNamespace(site=folder / "site", url=urls_of(folder / "site"), content=content, model=model,
                           state=model.state_dict(), shape=shape, images=images, labels=labels,
                           mean=settings["mean"], std=settings["std"])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return once_each(make_project, tmp_path_factory)


def read_json(project, kind, **fields):
    return json.loads((project.site / project.url(kind, **fields)).read_text(encoding="utf-8"))


def input_pixels(project, input_id):
    """An article input's pixels as Pillow reads the author's file (no conversion: it has the input's size)."""
    return read_png(project.content / "inputs" / f"{input_id}.png", project.shape[0])


# --- attributions ----------------------------------------------------------------------------------

def autograd(steps, state, x):
    """(logits (classes,), gradients (classes, C, H, W)) of one normalised float64 input x (C, H, W)."""
    x = x[None].clone().requires_grad_(True)
    logits = forward(steps, state, x)[steps[-1][0]][0]
    rows = [torch.autograd.grad(logits[c], x, retain_graph=True)[0][0] for c in range(len(logits))]
    return logits.detach().numpy(), torch.stack(rows).numpy()


def palette_indices(path, colours):
    """Each pixel of a palette PNG as its index in the contract's 256 colours ('#rrggbb')."""
    index = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)): n for n, c in reversed(list(enumerate(colours)))}
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    return np.array([[index[tuple(p)] for p in row] for row in rgb])


def test_colour_attributions_are_autograds_per_channel_and_add_up(project):
    colour = project("colour")
    record, contract = read_json(colour, "attributions"), contract_of(colour.site)
    steps, classes = steps_of(colour.model), len(colour.model.classes)
    assert record["exact"] and record["classes"] == list(colour.model.classes)
    for input_id, entries in record["inputs"].items():
        x = normalise(input_pixels(colour, input_id)[None], colour.mean, colour.std)[0]
        logits, gradients = autograd(steps, colour.state, x)
        published = np.frombuffer((colour.site / colour.url("attribution", input=input_id)).read_bytes(),
                                  dtype="<f4").reshape(classes, *colour.shape)
        scale = np.abs(gradients).max()
        assert np.abs(published - gradients).max() <= 1e-5 * scale, f"{input_id}: not autograd's gradients"
        contributions = gradients * x.numpy()  # (classes, C, H, W)
        for c, entry in enumerate(entries):
            shares = contributions[c].reshape(3, -1).sum(1)
            assert np.allclose(entry["channels"], shares, rtol=0, atol=1e-5), f"{input_id} class {c}: shares"
            assert abs(sum(entry["channels"]) - entry["sum"]) <= 1e-9 * max(1, abs(entry["sum"]))
            assert abs(entry["sum"] + entry["constant"] - entry["logit"]) <= 1e-6, f"{input_id} class {c}: no sum"
            assert abs(entry["logit"] - logits[c]) <= 1e-5 and abs(entry["sum"] - shares.sum()) <= 1e-5
            assert entry["bound"] == pytest.approx(np.abs(contributions[c].sum(0)).max(), rel=1e-4)
            assert entry["channel_bound"] == pytest.approx(np.abs(contributions[c]).max(), rel=1e-4)
        # The picture for the page without script: the predicted class's per-pixel sum over channels.
        predicted = int(np.argmax([entry["logit"] for entry in entries]))
        pixel_sums, bound = contributions[predicted].sum(0), entries[predicted]["bound"]
        shown = palette_indices(colour.site / colour.url("attribution_map", input=input_id),
                                contract["palettes"][contract["diverging"]])
        expected = np.rint((pixel_sums + bound) / (2 * bound) * 255)
        assert shown.shape == tuple(colour.shape[1:]) and np.abs(shown - expected).max() <= 1


def tanh_forward(state, x):
    """tests/models/colour_pictures.py's TanhColour, written out in torch.nn.functional."""
    y = F.avg_pool2d(torch.tanh(F.conv2d(x, state["conv1.weight"].double(), state["conv1.bias"].double(),
                                         padding=1)), 2)
    return F.linear(y.flatten(1), state["fc.weight"].double(), state["fc.bias"].double())


def test_a_non_linear_colour_models_baseline_is_black_in_every_channel(project):
    """Integrated gradients (64 midpoints) from the black image, (0 − mean[c]) / std[c] in channel c."""
    tanh = project("tanh")
    record = read_json(tanh, "attributions")
    black = (0 - np.array(tanh.mean)) / np.array(tanh.std)
    assert not record["exact"] and np.allclose(record["baseline"], black, rtol=0, atol=1e-12)
    at = torch.tensor(black).view(1, 3, 1, 1).expand(1, *tanh.shape)
    baseline_logits = tanh_forward(tanh.state, at)[0].numpy()
    for input_id, entries in record["inputs"].items():
        x = normalise(input_pixels(tanh, input_id)[None], tanh.mean, tanh.std)
        points = (at + (torch.arange(record["steps"], dtype=torch.float64) + 0.5).view(-1, 1, 1, 1)
                  / record["steps"] * (x - at)).requires_grad_(True)
        logits = tanh_forward(tanh.state, points)
        mean_gradients = torch.stack([torch.autograd.grad(logits[:, c].sum(), points, retain_graph=True)[0].mean(0)
                                      for c in range(logits.shape[1])]).numpy()
        published = np.frombuffer((tanh.site / tanh.url("attribution", input=input_id)).read_bytes(),
                                  dtype="<f4").reshape(mean_gradients.shape)
        assert np.abs(published - mean_gradients).max() <= 1e-5 * np.abs(mean_gradients).max()
        contributions = mean_gradients * (x - at)[0].numpy()
        for c, entry in enumerate(entries):
            assert abs(entry["baseline_logit"] - baseline_logits[c]) <= 1e-5, f"{input_id}: not the black image's"
            assert np.allclose(entry["channels"], contributions[c].reshape(3, -1).sum(1), rtol=0, atol=1e-5)
            assert abs(entry["sum"] + entry["baseline_logit"] + entry["gap"] - entry["logit"]) <= 1e-5


# --- dataset examples ------------------------------------------------------------------------------

def scores_of(project, layer_id, kind):
    """Every test image's score per unit of a layer, float64 (N, units), by tests/oracle.py's forward pass."""
    with torch.no_grad():
        out = forward(steps_of(project.model), project.state, normalise(project.images, project.mean,
                                                                        project.std))[layer_id]
    return (out.flatten(2).max(2).values if kind == "map" else out).numpy()


@pytest.mark.parametrize("name", ["colour", "gray"])
def test_examples_are_the_true_top_nine_with_their_pixels(name, project):
    """Each unit's nine are the test images an independent pass ranks first (up to equal scores), with
    their scores and labels; each tile is the image (in all its channels) cut at the unit's receptive
    field as autograd finds it, black outside the image, or the whole image for a vector's unit."""
    chosen = project(name)
    channels = chosen.shape[0]
    index = read_json(chosen, "examples")
    assert index["available"] and index["images"] == len(chosen.images) and index["layers"]
    assert index["source"] == "data test set", "the folder by its name, not the author's path"
    mask_of = depends_on(chosen.model, tuple(chosen.shape))
    for entry in index["layers"]:
        record = read_json(chosen, "examples_layer", layer=entry["id"])
        atlases = []
        for part in range(len(record["atlases"])):
            with Image.open(chosen.site / chosen.url("examples_atlas", layer=entry["id"], part=part)) as atlas:
                assert atlas.mode == ("RGB" if channels == 3 else "L"), f"{entry['id']}: a {atlas.mode} atlas"
                atlases.append(np.asarray(atlas).reshape(atlas.height, atlas.width, channels))
        scores = scores_of(chosen, entry["id"], entry["kind"])
        (h, w) = record["tile"]
        for k, unit in enumerate(record["units"]):
            ranked = sorted(range(len(scores)), key=lambda i: (-scores[i, k], i))[:COUNT]
            assert np.allclose(scores[unit["test"], k], scores[ranked, k], rtol=0, atol=1e-5), \
                f"{entry['id']} unit {k}: {unit['test']}, the oracle ranks {ranked}"
            assert np.allclose(unit["value"], scores[unit["test"], k], rtol=0, atol=1e-5)
            assert unit["label"] == chosen.labels[unit["test"]].tolist()
            for rank, (i, (x, y)) in enumerate(zip(unit["test"], unit["tiles"])):
                tile = atlases[unit["atlas"]][y:y + h, x:x + w].transpose(2, 0, 1)  # (C, h, w)
                image = chosen.images[i]
                if entry["kind"] == "vector":
                    assert np.array_equal(tile, image), f"{entry['id']} unit {k}: not test image {i}"
                    continue
                top, bottom, left, right = rectangle(mask_of(entry["id"], *unit["position"][rank]))
                assert unit["box"][rank] == [top, left, bottom + 1, right + 1], f"{entry['id']} unit {k}"
                origin = unit["origin"][rank]
                expected = np.zeros((channels, h, w), dtype=np.uint8)
                expected[:, top - origin[0]:bottom + 1 - origin[0], left - origin[1]:right + 1 - origin[1]] = \
                    image[:, top:bottom + 1, left:right + 1]
                assert np.array_equal(tile, expected), f"{entry['id']} unit {k}: not image {i}'s field"


@pytest.mark.parametrize("name", ["colour", "gray"])
def test_confusion_cells_hold_the_test_images_channel_by_channel(name, project):
    chosen = project(name)
    index = read_json(chosen, "confusion")
    assert index["shape"] == (chosen.shape if chosen.shape[0] == 3 else chosen.shape[1:])
    held = 0
    for cell, indices in index["cells"].items():
        true, predicted = map(int, cell.split("-"))
        pixels = np.frombuffer((chosen.site / chosen.url("confusion_cell", true=true, predicted=predicted)
                                ).read_bytes(), dtype=np.uint8).reshape(-1, *chosen.shape)
        assert np.array_equal(pixels, chosen.images[indices]), cell
        assert set(chosen.labels[indices]) == {true}
        held += len(indices)
    assert held == len(chosen.images)  # so few images that every one is kept


# --- filters in colour ------------------------------------------------------------------------------

def test_the_filters_that_read_a_colour_image_are_colour_pictures(project):
    """conv1's filter k: channel c of pixel (i, j) is its weight mapped around the filter's largest,
    rint((w / bound + 1) × 127.5), so the page reads each weight back to within bound / 255; conv2
    reads maps, not the image, and has its per-channel tiles only; a grayscale site has none."""
    colour = project("colour")
    assert contract_of(colour.site)["urls"]["kernel_colour"]
    weights = colour.state["conv1.weight"].double().numpy()
    for k, kernels in enumerate(weights):
        with Image.open(colour.site / colour.url("kernel_colour", layer="conv1", k=k)) as picture:
            assert picture.mode == "RGB"
            rgb = np.asarray(picture).transpose(2, 0, 1).astype(np.float64)  # (C, h, w)
        bound = np.abs(kernels).max()
        assert np.array_equal(rgb, np.rint((kernels / bound + 1) * 127.5)), f"conv1 filter {k}"
        assert np.abs((rgb / 127.5 - 1) * bound - kernels).max() <= bound / 255
    for layer in ("conv2",):
        assert not list((colour.site / colour.url("kernel", layer=layer, k=0)).parent.glob("*-colour.png"))
    gray = project("gray")
    assert "kernel_colour" not in contract_of(gray.site)["urls"]
    assert not list((gray.site / "frames").rglob("*-colour.png"))


# --- feature visualisation ------------------------------------------------------------------------

def test_colour_feature_visualisations_are_colour_images_that_reach_their_values(project):
    """Each convolution channel's image, rebuilt from its RGB atlas (black outside its field), run
    through the oracle's forward pass with the per-channel normalisation, gives the published values;
    the bound of the ascent is each channel's [black, white], normalised."""
    colour = project("colour")
    index = read_json(colour, "featurevis")
    mean, std = np.array(colour.mean), np.array(colour.std)
    assert np.allclose(index["method"]["regularisation"]["range"], np.stack([-mean / std, (1 - mean) / std], 1),
                       rtol=0, atol=1e-6)
    assert np.allclose(index["method"]["regularisation"]["background"], -mean / std, rtol=0, atol=1e-6)
    coloured = False
    for layer in index["layers"]:
        with Image.open(colour.site / colour.url("featurevis_atlas", layer=layer["id"])) as atlas:
            assert atlas.mode == "RGB"
            pixels = np.asarray(atlas).transpose(2, 0, 1)  # (3, rows, columns)
        (h, w), (top, left), box = layer["tile"], layer["origin"], layer["box"]
        images = np.zeros((layer["channels"], *colour.shape), dtype=np.uint8)
        for c, (x, y) in enumerate(layer["tiles"]):
            tile = pixels[:, y:y + h, x:x + w]
            images[c][:, box[0]:box[2], box[1]:box[3]] = tile[:, box[0] - top:box[2] - top, box[1] - left:box[3] - left]
        coloured |= bool((images[:, 0] != images[:, 1]).any() or (images[:, 1] != images[:, 2]).any())
        with torch.no_grad():
            out = forward(steps_of(colour.model), colour.state, normalise(images, colour.mean, colour.std))[layer["id"]]
        which = torch.arange(layer["channels"])
        own = out[which, which].numpy()  # image c's map of channel c
        row, col = layer["unit"]
        assert np.allclose(own[:, row, col], layer["centre"], rtol=0, atol=1e-4), layer["id"]
        assert np.allclose(own.reshape(len(own), -1).max(1), layer["value"], rtol=0, atol=1e-4), layer["id"]
    assert coloured, "every image is gray"


def test_the_first_convolutions_colour_images_are_the_optimum_in_the_normalised_space(project):
    """conv1 is linear in the image, so the stated objective (the unit, less L2 × Σ (x − black)² and
    TV × the total variation, over the field, in the per-channel normalised space) is all but maximised
    by white where a weight is positive and black where it is negative, channel by channel: the
    published image must do at least as well (an ascent in the wrong space does not)."""
    colour = project("colour")
    index = read_json(colour, "featurevis")
    l2, tv = index["method"]["regularisation"]["l2"], index["method"]["regularisation"]["tv"]
    layer = next(entry for entry in index["layers"] if entry["id"] == "conv1")
    weights = colour.state["conv1.weight"].double()
    (h, w), (top, left), box = layer["tile"], layer["origin"], layer["box"]
    black = normalise(np.zeros((1, *colour.shape), dtype=np.uint8), colour.mean, colour.std)[0]
    with Image.open(colour.site / colour.url("featurevis_atlas", layer="conv1")) as atlas:
        pixels = np.asarray(atlas).transpose(2, 0, 1)
    row, col = layer["unit"]

    def objective(k, field):  # field: uint8 (3, h, w) of the unit's receptive field
        image = np.zeros(colour.shape, dtype=np.uint8)
        image[:, box[0]:box[2], box[1]:box[3]] = field[:, box[0] - top:box[2] - top, box[1] - left:box[3] - left]
        x = normalise(image[None], colour.mean, colour.std)
        unit = F.conv2d(x, weights, colour.state["conv1.bias"].double(), padding=1)[0, k, row, col]
        inside = (x - black)[0][:, box[0]:box[2], box[1]:box[3]]
        part = x[0][:, box[0]:box[2], box[1]:box[3]]
        variation = (part[:, 1:] - part[:, :-1]).abs().sum() + (part[:, :, 1:] - part[:, :, :-1]).abs().sum()
        return float(unit - l2 * (inside ** 2).sum() - tv * variation)

    for k, (x, y) in enumerate(layer["tiles"]):
        published = pixels[:, y:y + h, x:x + w]
        signs = np.where(weights[k].numpy() > 0, 255, 0).astype(np.uint8)  # the field is the kernel's size
        assert objective(k, published) >= objective(k, signs) - 1e-3 * abs(objective(k, signs)), f"channel {k}"
