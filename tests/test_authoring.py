"""Authoring: strict checks, clean failures on bad input, the author's own images and own model.

Every failure is checked the way an author meets it: `python -m builder build` exits 1 with one
line naming the file (and line) and the fix, no traceback, and the previous site left as it was.
"""
import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import conftest
from builder import build as building
from builder.errors import BuildError
from conftest import CHECKPOINT, REPO, run_cli, tree_digest, urls_of
from model import data
from oracle import depends_on, forward, normalised, rectangle, steps_of


@pytest.fixture
def old_site(tmp_path, built):
    """A previously built site in tmp_path/site, and the digest of its bytes."""
    out = tmp_path / "site"
    shutil.copytree(built.site, out)
    return out, tree_digest(out)


def fails_cleanly(process, old_site, *expected):
    """Exit 1, one `error:` line holding every expected piece, no traceback, the old site untouched."""
    out, digest = old_site
    assert process.returncode == 1, process.stdout + process.stderr
    assert process.stderr.startswith("error: ") and process.stderr.count("\n") == 1, process.stderr
    assert "Traceback" not in process.stderr
    for piece in expected:
        assert piece in process.stderr, (piece, process.stderr)
    assert tree_digest(out) == digest


def line_of(path, needle):
    return next(n for n, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1) if needle in text)


def build(content, out, *flags):
    return run_cli("build", "--content", content, "--out", out, *flags)


# --- bad input -------------------------------------------------------------------------------------

def test_malformed_front_matter_names_the_file_and_line(make_content, old_site):
    """YAML that does not parse is reported with its line and a hint."""
    article = make_content("Text.\n", front=["title: [an unclosed list", "lang: en"])
    process = build(article.parent, old_site[0])
    fails_cleanly(process, old_site, f"{article}:", "not valid YAML")
    assert re.match(rf"error: {re.escape(str(article))}:\d+: ", process.stderr)


def test_unknown_front_matter_key_lists_the_known_ones(make_content, old_site):
    """A misspelt key is an error on its own line, listing every key the front matter may hold."""
    article = make_content("Text.\n", front=["titel: Oops"])
    fails_cleanly(build(article.parent, old_site[0]), old_site,
                  f"{article}:{line_of(article, 'titel')}: unknown front matter key 'titel'",
                  "title", "inputs", "checkpoint")


def test_text_that_is_not_utf8_names_the_file_and_line(make_content, old_site):
    """Latin-1 bytes in the article are reported with the line they are on."""
    article = make_content("First line.\nSecond line.\n")
    line = line_of(article, "Second line")
    article.write_bytes(article.read_bytes().replace(b"Second", b"Caf\xe9 second"))
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{article}:{line}: not valid UTF-8")


def test_debug_adds_the_traceback(make_content, old_site):
    """--debug shows where the error was raised, for the developer."""
    article = make_content("![Deep](layer:conv9)\n")
    process = build(article.parent, old_site[0], "--debug")
    assert process.returncode == 1 and "Traceback" in process.stderr


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_checkpoint_is_an_error_never_a_retraining(damage, make_content, old_site, tmp_path):
    """A checkpoint that exists but cannot be read stops the build at once and is left untouched."""
    broken = tmp_path / "broken.pt"
    good = CHECKPOINT.read_bytes()
    broken.write_bytes(good[: len(good) // 2] if damage == "truncated" else bytes(range(256)) * 64)
    before = broken.read_bytes()
    article = make_content("Text.\n", checkpoint=broken)
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{broken}:", "truncated or corrupt",
                  "python -m builder train")
    assert broken.read_bytes() == before


def test_checkpoint_of_another_architecture_names_the_layer(make_content, old_site, tmp_path):
    """Weights whose conv1 has 8 filters instead of 16 are refused, naming conv1 and both shapes."""
    state = torch.load(CHECKPOINT, weights_only=True)
    state["conv1.weight"] = state["conv1.weight"][:8]
    other = tmp_path / "other.pt"
    torch.save(state, other)
    article = make_content("Text.\n", checkpoint=other)
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{other}:", "layer 'conv1'", "16×1×3×3", "8×1×3×3")


def test_missing_template_names_the_template(make_content, old_site, tmp_path):
    """A theme without figure.html says which template is missing."""
    theme = tmp_path / "theme"
    shutil.copytree(REPO / "themes" / "default", theme)
    (theme / "templates" / "figure.html").unlink()
    article = make_content("![Maps](layer:conv1)\n", front=[f"theme: {theme}/"])
    fails_cleanly(build(article.parent, old_site[0]), old_site, "figure.html", "not found")


def test_broken_template_names_the_file_and_line(make_content, old_site, tmp_path):
    """A syntax error in page.html is reported as page.html:LINE."""
    theme = tmp_path / "theme"
    shutil.copytree(REPO / "themes" / "default", theme)
    page = theme / "templates" / "page.html"
    lines = page.read_text().split("\n")
    lines.insert(4, "{% if %}")
    page.write_text("\n".join(lines))
    article = make_content("Text.\n", front=[f"theme: {theme}/"])
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{page}:5: template syntax")


def test_output_folder_that_cannot_be_written(make_content, tmp_path):
    """An --out inside a file (so it can never be created) is a clean error naming it."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    article = make_content("Text.\n")
    process = build(article.parent, blocker / "site")
    assert process.returncode == 1 and "Traceback" not in process.stderr
    assert process.stderr.startswith(f"error: {blocker / 'site'}:") and "--out" in process.stderr


def test_input_index_out_of_range(make_content, old_site):
    """A test image number past the end of the test set names the line and the valid range."""
    article = make_content("Text.\n", front=["inputs:", "  - test: 10000"])
    fails_cleanly(build(article.parent, old_site[0]), old_site,
                  f"{article}:{line_of(article, 'inputs:')}:", "test image 10000 does not exist", "0 to 9999")


def test_missing_dataset_when_training_is_needed_lists_every_way(make_content, tmp_path, monkeypatch):
    """No checkpoint and no FashionMNIST anywhere: the error lists every way to provide it."""
    monkeypatch.setattr(data, "CACHE", tmp_path / "empty-cache")
    monkeypatch.setattr(data, "DEBIAN", tmp_path / "no-debian-package")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.chdir(REPO)
    article = make_content("Text.\n", checkpoint=tmp_path / "never-trained.pt")
    with pytest.raises(BuildError) as raised:
        building.build(article.parent, tmp_path / "site", train=True, log=lambda message: None)
    message = str(raised.value)
    for way in ("--data-root DIR", data.ENV_VAR, "apt-get install dataset-fashion-mnist", "download"):
        assert way in message
    assert not (tmp_path / "never-trained.pt").exists() and not (tmp_path / "site").exists()


def test_a_checkpoint_that_does_not_exist_is_named_with_the_command_that_makes_it(make_content, old_site,
                                                                                  tmp_path):
    """A typo in checkpoint: never starts a training run, and never touches another model's metrics."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(CHECKPOINT, folder / "cnn.pt")
    shutil.copy(CHECKPOINT.with_suffix(".json"), folder / "cnn.json")
    before = tree_digest(folder)
    article = make_content("Text.\n", checkpoint=folder / "cnn-typo.pt")
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{article}:2: checkpoint not found",
                  f"layerwise train --model model.cnn:FashionCNN --checkpoint {folder / 'cnn-typo.pt'}", "--train")
    assert tree_digest(folder) == before


def test_training_refuses_metrics_that_belong_to_another_checkpoint(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(CHECKPOINT.with_suffix(".json"), folder / "cnn.json")
    before = tree_digest(folder)
    process = run_cli("train", "--checkpoint", folder / "second.pt", "--metrics", folder / "cnn.json",
                      "--max-steps", "1")
    assert process.returncode == 1 and process.stderr.count("\n") == 1, process.stderr
    assert "holds the metrics of cnn.pt, not of" in process.stderr
    assert tree_digest(folder) == before


# --- strict ----------------------------------------------------------------------------------------

STRICT_BODY = """\
{{ summary_table }}

Intro with a formula $\\notacommand{x} + 1$.

![](layer:conv1)

See [the missing section](#nowhere).
"""


def test_warnings_are_printed_and_strict_turns_them_into_one_failure(make_content, old_site):
    """Without --strict the build succeeds and warns; with it, it fails listing every warning."""
    article = make_content(STRICT_BODY, front=["inputs:", "  - file: " + "PLACEHOLDER"])
    inputs = sorted((article.parent / "inputs").glob("*.png"))
    article.write_text(article.read_text().replace("PLACEHOLDER", inputs[0].name))
    shutil.copy(inputs[0], article.parent / "inputs" / "unused.png")
    out, digest = old_site

    strict = build(article.parent, out, "--strict")
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert tree_digest(out) == digest
    report = strict.stderr
    assert f"{article}:{line_of(article, 'notacommand')}: unknown LaTeX command '\\notacommand'" in report
    assert f"{article}:{line_of(article, '(layer:conv1)')}: the figure of 'conv1' has no caption" in report
    assert f"{article}:{line_of(article, '#nowhere')}: index.html: '#nowhere' points to no element with id " \
           "'nowhere'" in report, "a broken link names the line the author wrote it on"
    assert "unused.png: input image is never shown" in report
    assert report.strip().endswith("fix them or build without --strict")

    lenient = build(article.parent, out)
    assert lenient.returncode == 0
    assert lenient.stderr.count("warning: ") == 4


# --- the author's own images ----------------------------------------------------------------------

def test_own_colour_photo_becomes_a_fashion_mnist_like_input(make_content, tmp_path):
    """A 120×90 colour JPEG with a white background is converted (with a warning) and traced."""
    article = make_content("![Input](layer:input)\n\n![Maps](layer:conv1)\n")
    photo = Image.new("RGB", (120, 90), "white")
    ImageDraw.Draw(photo).rectangle((20, 10, 60, 80), fill=(40, 30, 90))  # a dark garment, off-centre
    photo.save(article.parent / "inputs" / "my photo.jpg", quality=95)
    out = tmp_path / "out"

    process = build(article.parent, out)

    assert process.returncode == 0, process.stderr
    assert "my photo.jpg" in process.stderr and "converted" in process.stderr and "inverted" in process.stderr
    record = json.loads((out / urls_of(out)("record", input="my-photo")).read_text())
    assert record["layers"]["input"]["shape"] == [1, 28, 28]
    [mean], [std] = json.loads(conftest.METRICS.read_text())["normalisation"].values()
    brightness = np.array(record["layers"]["input"]["values"]).reshape(28, 28) * std + mean
    rows, cols = np.nonzero(brightness > 0.5)
    assert brightness[:, 0].max() < 0.1 and brightness[:, -1].max() < 0.1, "the white background turned black"
    assert brightness[14, 14] > 0.5, "the dark garment turned light"
    assert rows.max() - rows.min() >= 26, "scaled so that its longer side fills the frame, as FashionMNIST does"
    assert abs((cols.min() + cols.max()) / 2 - 13.5) <= 1.5, "centred"
    assert re.search(r'<input type="radio" name="input" value="my-photo"', (out / "index.html").read_text())


# --- the author's own model -------------------------------------------------------------------------

OWN_ARTICLE = """\
A different network, {{ layers|length - 1 }} layers deep.

{{ summary_table }}

{% for layer in layers %}
![What {{ layer.id }} makes of the image](layer:{{ layer.id }})

{% endfor %}
"""


@pytest.fixture(scope="module")
def own_model(tmp_path_factory):
    """ThreeConv trained briefly on part of the real training set, and a site built from it."""
    root = tmp_path_factory.mktemp("own")
    checkpoint = root / "threeconv.pt"
    trained = run_cli("train", "--model", "tests.models.threeconv:ThreeConv", "--checkpoint", checkpoint,
                      "--epochs", "1", "--train-subset", "6000")
    assert trained.returncode == 0, trained.stderr
    content = root / "content"
    (content / "inputs").mkdir(parents=True)
    for png in sorted((REPO / "content" / "inputs").glob("*.png"))[:3]:
        shutil.copy(png, content / "inputs")
    (content / "article.md").write_text(
        f"---\ntitle: Three convolutions\nmodel: tests.models.threeconv:ThreeConv\ncheckpoint: {checkpoint}\n---\n"
        + OWN_ARTICLE)
    built = run_cli("build", "--content", content, "--out", root / "site", "--strict")
    assert built.returncode == 0, built.stderr
    return root, checkpoint, content, root / "site"


def test_own_model_builds_a_complete_site_with_its_own_layers(own_model):
    """Every child of ThreeConv gets a figure, a summary row and a data entry, in order."""
    from tests.models.threeconv import ThreeConv
    _, _, _, site = own_model
    children = [name for name, _ in ThreeConv().named_children()]
    html = (site / "index.html").read_text()
    assert re.findall(r'<figure\b[^>]*\bdata-layer="([^"]+)"', html) == ["input"] + children
    network = json.loads((site / urls_of(site)("network")).read_text())
    assert [layer["id"] for layer in network["layers"]] == ["input"] + children
    params = sum(p.numel() for p in ThreeConv().parameters())
    assert f"{params:,}" in re.search(r'<table class="lw-summary">.*?</table>', html, re.S).group(0)


def test_own_model_numbers_match_an_independent_forward_pass(own_model):
    """Each published layer of each input equals the functional oracle on the saved weights."""
    from tests.models.threeconv import ThreeConv
    _, checkpoint, content, site = own_model
    state = torch.load(checkpoint, weights_only=True)
    norm = json.loads(checkpoint.with_suffix(".json").read_text())["normalisation"]
    for png in sorted((content / "inputs").glob("*.png")):
        x = normalised(np.asarray(Image.open(png), dtype=np.uint8), norm["mean"], norm["std"])
        expected = forward(steps_of(ThreeConv()), state, x)
        record = json.loads((site / urls_of(site)("record", input=png.stem)).read_text())
        for layer, values in expected.items():
            published = np.array(record["layers"][layer]["values"])
            want = values[0].numpy().ravel()
            assert published.shape == want.shape, layer
            assert np.allclose(published, want, rtol=1e-3, atol=1e-4 * max(1, np.abs(want).max())), layer


def test_own_model_receptive_fields_follow_its_layers(own_model):
    """network.json's receptive fields agree with the input pixels autograd says each cell depends on."""
    from tests.models.threeconv import ThreeConv
    _, _, _, site = own_model
    network = {layer["id"]: layer for layer in json.loads((site / urls_of(site)("network")).read_text())["layers"]}
    mask_of = depends_on(ThreeConv())
    for layer_id, layer in network.items():
        if layer_id == "input" or "receptive" not in layer:
            continue
        _, h, w = layer["shape"]
        r, c = h // 2, w // 2
        top, bottom, left, right = rectangle(mask_of(layer_id, r, c))
        field = layer["receptive"]
        (size_r, size_c), (jump_r, jump_c), (start_r, start_c) = field["size"], field["jump"], field["start"]
        first_row, first_col = start_r + r * jump_r, start_c + c * jump_c
        assert (top, bottom) == (max(first_row, 0), min(first_row + size_r - 1, 27)), layer_id
        assert (left, right) == (max(first_col, 0), min(first_col + size_c - 1, 27)), layer_id


def test_unsupported_layer_type_is_named(make_content, old_site):
    """An upsampling layer stops the build, naming the layer, its type and what is supported."""
    article = make_content("Text.\n", front=["model: tests.models.threeconv:Upsamples"])
    fails_cleanly(build(article.parent, old_site[0]), old_site, "operation grow (Upsample)",
                  "supported: Conv2d")


def test_metrics_of_other_weights_are_refused(make_content, old_site, tmp_path):
    """A checkpoint whose metrics record another sha256 would get the wrong normalisation: refused."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(CHECKPOINT, folder / "cnn.pt")
    metrics = json.loads(CHECKPOINT.with_suffix(".json").read_text())
    metrics["weights_sha256"] = "0" * 64
    (folder / "cnn.json").write_text(json.dumps(metrics))
    article = make_content("Text.\n", checkpoint=folder / "cnn.pt")
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{folder / 'cnn.json'}:",
                  "written for other weights", "restore both files together or retrain")


@pytest.mark.parametrize("model, named", [("PaddedSame", "padding='same' with an even kernel"),
                                         ("CallsTwice", "module 'conv2' of tests.models.threeconv:CallsTwice is called twice and has weights")])
def test_layers_the_page_would_explain_wrongly_are_refused(model, named, make_content, old_site):
    """Settings the page's arithmetic does not model, and a module with weights called twice, stop
    the build with a message naming them."""
    article = make_content("Text.\n", front=[f"model: tests.models.threeconv:{model}"])
    fails_cleanly(build(article.parent, old_site[0]), old_site, named)
