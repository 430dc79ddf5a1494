"""An author's own data, end to end (issue 19). Three datasets the tests make (tests/datasets.py): a
colour folder whose class is colour and form together, a 20 × 36 grayscale folder, and an author's
dataset class (tests/models/own_data.py's Stripes). Each is trained for one epoch with the real
command line (`layerwise train --dataset …`) and built into an article with two test inputs; then:

- the checkpoint's metrics record the dataset, its classes, its input shape and each channel's
  normalisation, measured here with NumPy on the images as Pillow (or the author's class) gives them;
- every published layer is its declared operation of its inputs (tests/oracle.declared, float64), and
  equals the model's own forward pass in float64 on the dataset's own test images, read here in
  ImageFolder's order;
- the page names the classes and the input shape, and the inputs' labels are the test images' own;
- a model that does not fit the data (one channel for three, five outputs for four classes) is
  refused before training, naming both numbers;
- a folder too large for memory (so declared with LAYERWISE_MEMORY_MB) streams from disk under
  progress bars and gives the same files, byte for byte;
- in Chromium, with one page load per dataset, the page's forward pass equals PyTorch's (±1e-5) on
  the test inputs and on random ones, and an upload is converted as Pillow converts it under the
  rule the checkpoint's metrics publish.

Until the whole of issue 19 is in (the data layer, `train --dataset`, the build reading the dataset
from the metrics, colour in the page), these fail with the command's own error.

    .venv/bin/python -m pytest tests/test_own_data.py
"""
import base64
import html
import io
import json
import re
import shlex
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from playwright.sync_api import expect

import datasets
from conftest import CONTRACT, REPO, once_each, run_main, urls_of
from oracle import declared, published_outputs, published_tensors
from test_convert import encoded, garment, transparent
from test_own_input import FORWARD
from tests.models import own_data

TOLERANCE = 1e-5


@dataclass(frozen=True)
class Case:
    model: str        # a class of tests/models/own_data.py
    shape: tuple      # (C, H, W)
    classes: tuple
    flags: tuple = ()          # more `layerwise train` flags
    upload: dict = None        # the rule its images call for, where they are made to call for one
    named: bool = False        # the article names the dataset too (`dataset:` in the front matter)


CASES = {
    "colour": Case("ColourNet", (3, 32, 32), tuple(datasets.COLOUR_CLASSES), flags=("--augment", "flip,crop"),
                   upload=dict(invert=False, crop=False), named=True),
    "gray": Case("GrayNet", (1, 20, 36), tuple(datasets.GRAY_CLASSES), upload=dict(invert=True, crop=True)),
    "stripes": Case("StripesNet", (3, 16, 24), tuple(own_data.Stripes.classes)),
}


def make_data(name, folder):
    """(the --dataset spec, its --data-root or None, train split, test split) of a case, the splits as
    (uint8 (N, C, H, W), labels) read here without layerwise."""
    if name == "stripes":
        splits = [own_data.Stripes(train=train) for train in (True, False)]
        return ("tests.models.own_data:Stripes", folder / "stripes-root",
                *[(s.data.transpose(0, 3, 1, 2), np.array(s.targets)) for s in splits])
    root = (datasets.colour_folder if name == "colour" else datasets.gray_folder)(folder / name)
    return (str(root), None, *[datasets.read_folder(root, split)[:2] for split in ("train", "test")])


def main_of(*args):
    """(exit status, stderr) of the command line's main() on ARGS in this process (conftest.run_main),
    an unknown flag's usage message included."""
    try:
        return run_main(*args)
    except SystemExit as exit:  # argparse: a flag this version does not have
        return exit.code, f"argparse refused the command line (a flag of issue 19 missing?): {args}"


def ran(*args):
    """main_of(ARGS); fail, with what it printed, unless it worked."""
    status, stderr = main_of(*args)
    assert status == 0, f"`layerwise {' '.join(map(str, args))}` failed ({status}), which issue 19 " \
                        f"makes work:\n{stderr}"


ARTICLE = """---
model: tests.models.own_data:{model}
checkpoint: {checkpoint}
{dataset}inputs:
  - test: 0
  - test: {last}
---

{{{{ summary_table }}}}

![The input](layer:input)

![The first convolution](layer:conv1)

![The scores](layer:fc)
"""


def make_project(name, folder):
    """A case's dataset, trained for one epoch into folder/net.pt and built into folder/site."""
    case = CASES[name]
    spec, root, train, test = make_data(name, folder)
    checkpoint = folder / "net.pt"
    ran("train", "--model", f"tests.models.own_data:{case.model}", "--checkpoint", checkpoint, "--dataset", spec,
        *(["--data-root", root] if root else []), "--epochs", "1", "--device", "cpu", *case.flags)
    content = folder / "content"
    content.mkdir()
    last = len(test[1]) - 1  # of another class than the first in each dataset
    (content / "article.md").write_text(ARTICLE.format(
        model=case.model, checkpoint=checkpoint, last=last,
        dataset=f"dataset: {spec}\n" if case.named else ""), encoding="utf-8")
    ran("build", "--content", content, "--out", folder / "site", "--strict",
        *(["--data-root", root] if root else []))
    metrics = json.loads(checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    return SimpleNamespace(name=name, case=case, spec=spec, train=train, test=test, shown=[0, last],
                           checkpoint=checkpoint, metrics=metrics, site=folder / "site")


@pytest.fixture(scope="session")
def projects(tmp_path_factory):
    return once_each(make_project, tmp_path_factory)


@pytest.fixture(params=list(CASES))
def project(request, projects):
    return projects(request.param)


def read(site, kind, **fields):
    return json.loads((site / urls_of(site)(kind, **fields)).read_text(encoding="utf-8"))


def trained_model(project, dtype=torch.float64):
    model = getattr(own_data, project.case.model)()
    model.load_state_dict(torch.load(project.checkpoint, map_location="cpu", weights_only=True))
    return model.to(dtype).eval()


def every_layer(model, x):
    """{layer id: output} of a Sequential model, its input under 'input'."""
    outputs = {"input": x}
    with torch.no_grad():
        for name, child in model.named_children():
            x = child(x)
            outputs[name] = x
    return outputs


def normalised(pixels, normalisation, dtype):
    """uint8 (N, C, H, W) → (pixel / 255 − mean[c]) / std[c], written out here."""
    mean, std = (torch.tensor(normalisation[key], dtype=dtype).reshape(1, -1, 1, 1) for key in ("mean", "std"))
    return (torch.as_tensor(np.asarray(pixels)).to(dtype) / 255 - mean) / std


# --- the record ------------------------------------------------------------------------------------

def test_the_metrics_record_the_dataset_its_classes_shape_and_normalisation(project):
    metrics, case = project.metrics, project.case
    train_pixels, train_labels = project.train
    assert metrics["classes"] == list(case.classes)
    recorded = metrics["dataset"]
    assert recorded["spec"] == project.spec
    assert recorded["input_shape"] == list(case.shape)
    assert (recorded["train_images"], recorded["test_images"]) == (len(train_labels), len(project.test[1]))
    channels = train_pixels.transpose(1, 0, 2, 3).reshape(case.shape[0], -1).astype(np.float64) / 255
    assert np.allclose(metrics["normalisation"]["mean"], channels.mean(1), rtol=0, atol=1e-4), \
        (metrics["normalisation"], channels.mean(1))
    assert np.allclose(metrics["normalisation"]["std"], channels.std(1, ddof=1), rtol=0, atol=1e-4), \
        (metrics["normalisation"], channels.std(1, ddof=1))
    if case.upload:
        assert recorded["upload"] == case.upload
    network = read(project.site, "network")
    assert network["normalisation"] == {key: metrics["normalisation"][key] for key in ("mean", "std")}


def test_every_layer_is_its_declared_operation_and_the_models_own(project):
    network = read(project.site, "network")
    layers = network["layers"]
    model = trained_model(project)
    expected = every_layer(model, normalised(project.test[0][project.shown], project.metrics["normalisation"],
                                             torch.float64))
    summaries = read(project.site, "inputs")
    assert len(summaries) == 2
    for n, summary in enumerate(summaries):
        values = {layer_id: torch.from_numpy(array)[None]
                  for layer_id, array in published_outputs(project.site, network, summary["id"]).items()}
        for layer in layers[1:]:
            again = declared(layer["type"], layer["settings"], [values[i] for i in layer["inputs"]],
                             published_tensors(project.site, layer))
            assert_close(again, values[layer["id"]], f"{project.name}, {summary['id']}: {layer['id']} as declared")
        assert set(values) == set(expected), "the published layers are the model's children"
        for layer_id, value in expected.items():
            assert_close(value[n:n + 1], values[layer_id], f"{project.name}, {summary['id']}: {layer_id}")


def assert_close(expected, actual, what):
    scale = max(1.0, float(expected.abs().max()))
    error = float((expected - actual).abs().max())
    assert error <= 2e-5 * scale, f"{what}: off by {error:.3g} (scale {scale:.3g})"


def test_the_page_names_the_classes_and_the_input_shape(project):
    case = project.case
    network = read(project.site, "network")
    assert network["classes"] == list(case.classes)
    assert network["layers"][0]["shape"] == list(case.shape)
    page = (project.site / "index.html").read_text(encoding="utf-8")
    assert f"<td>{' × '.join(map(str, case.shape))}</td>" in page, "the summary table's input row"
    for name in case.classes:
        assert f'<th scope="row">{html.escape(name)}</th>' in page, f"the output table's row of {name}"
    labels = [summary.get("label") for summary in read(project.site, "inputs")]
    assert labels == [int(project.test[1][n]) for n in project.shown], "the test images are the dataset's own"


def test_a_folder_too_large_for_memory_streams_from_disk_and_gives_the_same_files(projects, monkeypatch, tmp_path):
    """The colour folder trained again, read from disk batch by batch (LAYERWISE_MEMORY_MB below its
    size): the same checkpoint and files beside it, byte for byte, the same metrics but the time, and
    the passes over the data under progress bars."""
    project = projects("colour")
    monkeypatch.setenv("LAYERWISE_MEMORY_MB", "0.01")
    checkpoint = tmp_path / "net.pt"
    status, stderr = main_of("train", "--model", f"tests.models.own_data:{project.case.model}", "--checkpoint",
                             checkpoint, "--dataset", project.spec, "--epochs", "1", "--device", "cpu",
                             *project.case.flags)
    assert status == 0, stderr
    assert "scoring the test set" in stderr and "dataset examples" in stderr, "progress bars while streaming"
    for suffix in (".pt", ".snapshots.npz", ".confusion.npz", ".examples.npz"):
        assert checkpoint.with_suffix(suffix).read_bytes() == project.checkpoint.with_suffix(suffix).read_bytes(), \
            suffix
    streamed = json.loads(checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    assert {**streamed, "train_seconds": 0} == {**project.metrics, "train_seconds": 0}


def test_the_readmes_worked_example_runs_as_written(monkeypatch, tmp_path):
    """README's "Your own data": its model file, its article and its commands, run in a new project
    folder as written, with fewer training pictures and one epoch: the article builds, strictly, and
    its test pictures are the ones it names."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Your own data\n"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    model, = [code for kind, code in blocks if kind == "python" and "class Shapes" in code]
    article, = [code for kind, code in blocks if kind == "markdown"]
    commands = [shlex.split(line.split("#")[0]) for kind, code in blocks if kind == "sh"
                for line in code.replace("\\\n", " ").splitlines() if line.startswith(".venv/bin/layerwise ")]
    assert [command[1] for command in commands] == ["train", "build", "serve"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodels").mkdir()
    (tmp_path / "mymodels" / "__init__.py").write_text("")
    (tmp_path / "mymodels" / "shapes.py").write_text(model, encoding="utf-8")
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "article.md").write_text(article, encoding="utf-8")
    datasets.colour_folder(tmp_path / "photos", per_class=dict(train=20, test=250))
    train, build, _ = commands
    ran(*[("1" if previous == "--epochs" else word) for previous, word in zip([""] + train, train)][1:])
    ran(*build[1:])
    site = tmp_path / build[build.index("--out") + 1]
    test_labels = datasets.read_folder(tmp_path / "photos", "test")[1]
    shown = [int(n) for n in re.findall(r"- test: (\d+)", article)]
    assert [summary["label"] for summary in read(site, "inputs")] == [int(test_labels[n]) for n in shown]
    assert "3 channels: blue-disc, blue-square, red-disc, red-square" in \
        " ".join((site / "index.html").read_text(encoding="utf-8").split())


# --- refusals --------------------------------------------------------------------------------------

class FirstLayerOneChannel(own_data.FiveOutputs):
    """input_shape says three channels, but its first layer reads one."""

    def __init__(self):
        super().__init__()
        self[0] = torch.nn.Conv2d(1, 4, 3, padding=1)
        self[-1] = torch.nn.Linear(4 * 32 * 32, 4)


REFUSED = {  # model → what the one line must say: the model's number and the data's
    "tests.models.own_data:OneChannel": ["1×32×32", "3×32×32"],
    "tests.test_own_data:FirstLayerOneChannel": [r"\b1\b", r"\b3\b"],
    "tests.models.own_data:FiveOutputs": [r"\b5 outputs", r"\b4 classes"],
}


@pytest.fixture(scope="module")
def colour_data(tmp_path_factory):
    return datasets.colour_folder(tmp_path_factory.mktemp("refused") / "shapes")


@pytest.mark.parametrize("model", REFUSED)
def test_a_model_that_does_not_fit_the_data_is_refused_before_training(model, colour_data, tmp_path):
    checkpoint = tmp_path / "net.pt"
    status, stderr = main_of("train", "--model", model, "--checkpoint", checkpoint, "--dataset", colour_data,
                             "--epochs", "1")
    assert status == 1, stderr
    said = stderr.strip()
    assert said.startswith("error:") and "\n" not in said and "Traceback" not in said, said
    for pattern in REFUSED[model]:
        assert re.search(pattern, said), f"{pattern!r} not in {said}"
    assert not checkpoint.exists() and not checkpoint.with_suffix(".json").exists(), "refused before training"


# --- in Chromium -----------------------------------------------------------------------------------

# Decode and convert the bytes of an upload with the page's own modules and the site's contract.
CONVERT = """async ([encoded, type, size]) => {
  const { decode } = await import('./static/upload.js');
  const { convert } = await import('./static/convert.js');
  const contract = await fetch(document.body.dataset.contract).then(response => response.json());
  const bytes = Uint8Array.from(atob(encoded), ch => ch.charCodeAt(0));
  const image = await decode(new File([bytes], 'sample', { type }));
  const { pixels, changes } = convert(image, size, contract.conversion);
  return { pixels: Array.from(pixels), changes, conversion: contract.conversion };
}"""

UPLOADS = {  # name → (bytes, type): light and dark backgrounds, colour and gray, transparency, other sizes
    "colour-light-background": lambda: (encoded(garment((150, 110)), "PNG"), "image/png"),
    "gray-dark-background-tall": lambda: (encoded(garment((31, 70), background=0, ink=220, mode="L"), "PNG"),
                                          "image/png"),
    "transparent": lambda: (encoded(transparent(), "PNG"), "image/png"),
    "jpeg-colour-small": lambda: (encoded(garment((13, 9), background=(200, 220, 90)), "JPEG", quality=95),
                                  "image/jpeg"),
}


def test_in_chromium_the_page_computes_as_pytorch_and_converts_as_pillow(project, page, serve):
    """One page load: the page's forward pass on the two test inputs and two random ones, every layer
    against PyTorch (float32); then each upload converted by the page against pillow_conversion."""
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(serve(project.site).url + "index.html")
    expect(page.locator("#fig-conv1 .lw-counter")).to_be_visible()
    rng = np.random.default_rng(3)
    inputs = [*project.test[0][project.shown], *rng.integers(0, 256, (2, *project.case.shape), dtype=np.uint8)]
    computed = page.evaluate(FORWARD, [pixels.ravel().tolist() for pixels in inputs])
    model = trained_model(project, torch.float32)
    expected = every_layer(model, normalised(np.stack(inputs), project.metrics["normalisation"], torch.float32))
    for n, got in enumerate(computed):
        for layer_id, values in expected.items():
            want = values[n].numpy().ravel().astype(np.float64)
            error = np.abs(np.array(got[layer_id], dtype=np.float64) - want) / np.maximum(1.0, np.abs(want))
            assert error.max() <= TOLERANCE, f"{project.name}, input {n}, {layer_id}: off by {error.max():.2e}"
    rule = project.metrics["dataset"]["upload"]
    channels, rows, cols = project.case.shape
    for name, made in UPLOADS.items():
        data, kind = made()
        page_said = page.evaluate(CONVERT, [base64.b64encode(data).decode(), kind, [rows, cols]])
        assert {key: page_said["conversion"].get(key) for key in ("channels", "invert", "crop")} == \
            dict(channels=channels, **rule), "the contract publishes the checkpoint's rule"
        with Image.open(io.BytesIO(data)) as image:
            want, changes = pillow_conversion(image, rule, project.case.shape, page_said["conversion"])
        got = np.array(page_said["pixels"], dtype=np.int16).reshape(channels, rows, cols)
        difference = np.abs(got - want.astype(np.int16))
        assert difference.max() <= 1, f"{project.name}, {name}: {int((difference > 1).sum())} values more than " \
                                      "one level from Pillow's"
        assert page_said["changes"] == changes, f"{project.name}, {name}"
    assert errors == []


@pytest.mark.parametrize("upload", UPLOADS)
def test_the_build_converts_an_authors_image_as_pillow_does(project, upload):
    """builder.inputs.convert, under the rule the site's contract publishes, against pillow_conversion:
    the same bytes and the same list of what was done."""
    from builder.inputs import convert
    conversion = json.loads((project.site / CONTRACT).read_text(encoding="utf-8"))["conversion"]
    data, _ = UPLOADS[upload]()
    with Image.open(io.BytesIO(data)) as image:
        want, changes = pillow_conversion(image, project.metrics["dataset"]["upload"], project.case.shape, conversion)
        got, done = convert(image, project.case.shape, conversion)
    assert np.array_equal(got, want), f"{project.name}, {upload}: {int((got != want).sum())} values differ"
    assert [change for change, _ in done] == changes


def pillow_conversion(image, rule, shape, spec):
    """(uint8 (C, H, W), what was done) of an upload, as the contract's conversion describes it, with
    Pillow: laid on white; the luma for one channel, the colours (or a gray image's one level) for three; inverted when the rule
    inverts and the border is light; then, to another size, cropped to what is drawn, fitted and centred
    on black when the rule crops, else scaled to cover and its middle cut out (torchvision's Resize and
    CenterCrop); each scaling across, then down, with Pillow's filter."""
    channels, rows, cols = shape
    changes = []
    rgba = image.convert("RGBA")
    if rgba.getextrema()[3][0] < 255:
        changes.append("transparent")
    rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    luma = rgb.convert("L")
    bands = rgb.split()
    if channels == 1:
        planes = [luma]
        if not all(np.array_equal(np.asarray(bands[0]), np.asarray(band)) for band in bands[1:]):
            changes.append("made_gray")
    else:  # a gray upload is the same in each channel, and nothing to say
        planes = list(bands)
    border = np.asarray(luma, dtype=np.float64)
    if rule["invert"] and np.concatenate([border[0], border[-1], border[:, 0], border[:, -1]]).mean() > \
            spec["invert_above"]:
        planes = [ImageOps.invert(plane) for plane in planes]
        changes.append("inverted")
    if image.size != (cols, rows):
        resample = Image.Resampling[spec["resample"].upper()]
        if rule["crop"]:
            changes.append("scaled")
            drawn = planes[0] if channels == 1 else Image.merge("RGB", planes).convert("L")
            box = drawn.point(lambda v: 255 if v > spec["crop_above"] else 0).getbbox() or (0, 0, *drawn.size)
            planes = [fit(plane.crop(box), (cols, rows), resample) for plane in planes]
        else:
            changes.append("covered")
            planes = [cover(plane, (cols, rows), resample) for plane in planes]
    return np.stack([np.asarray(plane, dtype=np.uint8) for plane in planes]), changes


def scaled(image, size, resample):
    """Across, then down, each pass only where the size changes."""
    across = image.resize((size[0], image.height), resample) if size[0] != image.width else image
    return across.resize(size, resample) if size[1] != image.height else across


def fit(image, size, resample):
    width, height = size
    fitted = ImageOps.contain(Image.new("L", image.size), size).size
    out = Image.new("L", size, 0)
    out.paste(scaled(image, fitted, resample), (round((width - fitted[0]) / 2), round((height - fitted[1]) / 2)))
    return out


def cover(image, size, resample):
    width, height = size
    factor = max(width / image.width, height / image.height)
    covered = (max(width, round(image.width * factor)), max(height, round(image.height * factor)))
    left, top = round((covered[0] - width) / 2), round((covered[1] - height) / 2)
    return scaled(image, covered, resample).crop((left, top, left + width, top + height))
