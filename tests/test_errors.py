"""Every mistake an author can make ends in one line naming the file (and line), never a traceback.

    .venv/bin/python -m pytest tests/test_errors.py -q

Each row of CASES breaks a small project one way (front matter, body, model, checkpoint, metrics,
the files kept beside the checkpoint, input images, theme, output folder, or a model that does not
fit the dataset), runs the command line's main() on it (`build …`, or `train`) and checks what
the author sees: exit status 1, exactly one line on stderr, `error: FILE:LINE: …` (or
`error: FILE: …` where no line applies) holding the expected words, no "Traceback", and neither
model/ nor the previously built site changed. The expected line is found by searching the file
for what was broken, not taken from the builder. All rows share one built checkpoint copy and one
build cache; none trains (a model that cannot be trained is refused before the first step).

The rows call main() in this process rather than start `python -m builder` 104 times: a new
process spends about two seconds importing torch before it reads its first argument, the same
for every row. The shared site is built by the real command, and tests/test_cli.py runs the
real command on failures too, so the process's own startup and exit status stay covered.
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch

from conftest import CHECKPOINT, CONTENT, REPO, copy_checkpoint, run_main, tree_digest
from tests.models.mistakes import whole_model_pickle


class Project:
    """A content folder with one input image whose article uses the shared checkpoint copy (or its
    own copy, after own_checkpoint()); `command` is what the row runs, `out` the site it may not touch."""

    def __init__(self, root, checkpoint, out):
        self.root, self.checkpoint, self.out = root, checkpoint, out
        self.content = root / "content"
        self.article, self.inputs = self.content / "article.md", self.content / "inputs"
        self.inputs.mkdir(parents=True)
        shutil.copy(sorted((CONTENT / "inputs").glob("*.png"))[0], self.inputs)
        self.command = ["build", "--content", self.content, "--out", out]
        self.write()

    def write(self, *front, body="Text.\n"):
        """The article: `checkpoint:` then the `front` lines as front matter, then `body`."""
        self.article.write_text("\n".join(["---", f"checkpoint: {self.checkpoint}", *front, "---", body]),
                                encoding="utf-8")

    def own_checkpoint(self):
        """A copy of the checkpoint and the files beside it that this row may damage."""
        self.checkpoint = copy_checkpoint(self.root / "model")
        for suffix in (".confusion.npz", ".examples.npz"):
            shutil.copy(CHECKPOINT.with_name(CHECKPOINT.stem + suffix), self.beside(suffix))
        self.write()
        return self.checkpoint

    def beside(self, suffix):
        return self.checkpoint.with_name(self.checkpoint.stem + suffix)

    @property
    def metrics(self):
        return self.beside(".json")


def line_of(path, needle):
    """The first line of `path` that holds `needle`."""
    return next(n for n, text in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1) if needle in text)


def at_line(needle):
    """The article, at the line where `needle` is written."""
    return lambda p: (p.article, line_of(p.article, needle))


def naming(model):
    """The article, naming `model` in its front matter."""
    return lambda p: p.write(f"model: {model}")


def edit_metrics(p, change):
    p.own_checkpoint()
    p.metrics.write_text(json.dumps(change(json.loads(p.metrics.read_text()))))


def reweighted(p, keep):
    """Other weights in the project's own checkpoint (conv1's bias moved), their sha256 in its metrics,
    and of the files computed with the old weights only `keep` (".snapshots.npz", …) left beside it."""
    state = torch.load(p.own_checkpoint(), weights_only=True)
    state["conv1.bias"] += 0.01
    torch.save(state, p.checkpoint)
    metrics = json.loads(p.metrics.read_text())
    metrics["weights_sha256"] = hashlib.sha256(p.checkpoint.read_bytes()).hexdigest()
    if keep != ".snapshots.npz":
        del metrics["snapshots"]
    p.metrics.write_text(json.dumps(metrics))
    for suffix in {".snapshots.npz", ".confusion.npz", ".examples.npz"} - {keep}:
        p.beside(suffix).unlink()


def png_header(path, width, height):
    """A PNG that says it is width × height pixels: its header, no pixel data (Pillow reads the size first)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))


def theme_copy(p):
    theme = p.root / "theme"
    shutil.copytree(REPO / "themes" / "default", theme)
    p.write(f"theme: {theme}/", body="![Maps](layer:conv1)\n")
    return theme / "templates"


def broken_page_template(p):
    page = theme_copy(p) / "page.html"
    lines = page.read_text(encoding="utf-8").split("\n")
    page.write_text("\n".join(lines[:4] + ["{% if %}"] + lines[4:]), encoding="utf-8")


def undefined_in_template(p):
    page = theme_copy(p) / "page.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", "{{ nothing.here }}\n</body>"),
                    encoding="utf-8")


def untrainable(p, model, module="mistakes"):
    """`build --train` of `model` (of tests/models/`module`.py) with no checkpoint yet."""
    p.checkpoint = p.root / "new" / "model.pt"
    p.write(f"model: tests.models.{module}:{model}")
    p.command.append("--train")


def train_command(p, model, *flags, module="mistakes"):
    """`train` of `model` (of tests/models/`module`.py) into a new checkpoint, with `flags` after (a later
    --checkpoint wins)."""
    p.command = ["train", "--model", f"tests.models.{module}:{model}", "--checkpoint", p.root / "new" / "model.pt",
                 *flags]


MANY_LINES = "Intro.\n\n{{ summary_table }}\n\n{% for i in range(3) %}\nItem {{ i }}.\n{% endfor %}\n\n"

# (name, how to break the project, where the error must point: p → (file or None for a command-line flag,
# line or None), words)
CASES = [
    # the article and its front matter
    ("no article.md", lambda p: p.article.unlink(), lambda p: (p.article, None), "file not found"),
    ("article.md is a folder", lambda p: (p.article.unlink(), p.article.mkdir()), lambda p: (p.article, None),
     "cannot read"),
    ("not UTF-8", lambda p: p.article.write_bytes(p.article.read_bytes().replace(b"Text.", b"Caf\xe9.")),
     lambda p: (p.article, p.article.read_bytes().split(b"\n").index(b"Caf\xe9.") + 1), "not valid UTF-8"),
    ("front matter never closed", lambda p: p.article.write_text("---\ntitle: Open\n\nText.\n"),
     lambda p: (p.article, 1), "never closed"),
    ("front matter not YAML", lambda p: p.write("title: [an unclosed list", "lang: en"),
     at_line("lang: en"), "not valid YAML"),
    ("front matter a list", lambda p: p.article.write_text("---\n- a\n- b\n---\nText.\n"), lambda p: (p.article, 2),
     "must be 'key: value' lines"),
    ("front matter key twice", lambda p: p.write("title: A", "title: B"), at_line("title: B"), "given twice"),
    ("unknown front matter key", lambda p: p.write("titel: Oops"), at_line("titel"), "unknown front matter key"),
    ("front matter value of the wrong type", lambda p: p.write("inputs: one.png"), at_line("inputs:"),
     "must be a list"),
    ("unknown theme", lambda p: p.write("theme: nope"), at_line("theme:"), "has no templates/ folder"),
    # the model
    ("checkpoint not found", lambda p: p.article.write_text(p.article.read_text().replace("cnn.pt", "cnn-typo.pt")),
     at_line("checkpoint:"), "checkpoint not found"),
    ("model not module:Class", naming("nothing"), at_line("model:"), "must be written module:Class"),
    ("model module missing", naming("custom.nowhere:Net"), at_line("model:"), "cannot import model"),
    ("model not a class", naming("model.cnn:CLASSES"), at_line("model:"), "name the model's class"),
    ("model needs arguments", naming("tests.models.mistakes:NeedsArguments"), at_line("model:"),
     "give each of them a default"),
    ("model with an unsupported layer", naming("tests.models.threeconv:Upsamples"),
     at_line("model:"), "Upsample"),
    ("model that calls a module twice", naming("tests.models.threeconv:CallsTwice"),
     at_line("model:"), "called twice"),
    ("a forward() that branches on values", naming("tests.models.mistakes:BranchesOnValues"), at_line("model:"),
     "cannot be traced by torch.fx"),
    ("a forward() with two outputs", naming("tests.models.mistakes:TwoOutputs"), at_line("model:"),
     "must return one tensor"),
    ("a forward() with two inputs", naming("tests.models.mistakes:TwoInputs"), at_line("model:"),
     "takes more than one input"),
    ("a layer called input", naming("tests.models.mistakes:LayerCalledInput"), at_line("model:"),
     "has a layer called 'input'"),
    ("a product of two layers", naming("tests.models.mistakes:Squares"), at_line("model:"),
     "is not one layerwise can explain"),
    ("a scaled sum", naming("tests.models.mistakes:ScaledSum"), at_line("model:"),
     "scales what it adds (alpha=2)"),
    ("dropout while evaluating", naming("tests.models.mistakes:DropsWhenEvaluating"), at_line("model:"),
     "drops values even when evaluating"),
    ("three channels without input_shape", naming("tests.models.mistakes:ColourWithoutShape"), at_line("model:"),
     "expects 3 input channels"),
    ("a forward() whose gradients cannot be computed", naming("tests.models.in_place:AddsAfterAConvReadIt"),
     at_line("model:"), "cannot compute the gradients of tests.models.in_place:AddsAfterAConvReadIt (one of the variables"),
    ("train a forward() whose gradients cannot be computed", lambda p: train_command(p, "AddsAfterAConvReadIt", module="in_place"),
     lambda p: (None, None), "cannot compute the gradients of tests.models.in_place:AddsAfterAConvReadIt"),
    ("a forward() of another dtype", naming("tests.models.mistakes:DoubleInside"), at_line("model:"),
     "(RuntimeError: Input type (double) and bias type (float) should be the same); fix forward()"),
    *[(f"input_shape {shape}", lambda p, model=model: p.write(f"model: tests.models.mistakes:{model}"),
       at_line("model:"), f"input_shape is {shape}; set it to three whole numbers above 0")
      for model, shape in (("ShapeOneNumber", "28"), ("ShapeOfText", "(1, '28', 28)"), ("ShapeBelowZero", "(1, -3, 28)"))],
    *[(f"train with input_shape {shape}", lambda p, model=model: train_command(p, model), lambda p: (None, None),
       f"input_shape is {shape}; set it") for model, shape in (("ShapeOneNumber", "28"), ("ShapeBelowZero", "(1, -3, 28)"))],
    # the checkpoint
    ("checkpoint truncated", lambda p: p.own_checkpoint().write_bytes(CHECKPOINT.read_bytes()[:5000]),
     lambda p: (p.checkpoint, None), "truncated or corrupt"),
    ("checkpoint of random bytes", lambda p: p.own_checkpoint().write_bytes(bytes(range(256)) * 64),
     lambda p: (p.checkpoint, None), "truncated or corrupt"),
    ("checkpoint empty", lambda p: p.own_checkpoint().write_bytes(b""), lambda p: (p.checkpoint, None),
     "truncated or corrupt"),
    ("checkpoint a whole pickled model", lambda p: whole_model_pickle(p.own_checkpoint()),
     lambda p: (p.checkpoint, None), "model.cnn.FashionCNN), as torch.save(model) writes"),
    ("checkpoint a folder", lambda p: (p.own_checkpoint().unlink(), p.checkpoint.mkdir()),
     lambda p: (p.checkpoint, None), "is a folder"),
    ("checkpoint not a state_dict", lambda p: torch.save({"conv1.weight": 1}, p.own_checkpoint()),
     lambda p: (p.checkpoint, None), "not a state_dict"),
    ("checkpoint of another architecture", lambda p: torch.save(
        {k: v[:8] if k.startswith("conv1.") else v for k, v in torch.load(CHECKPOINT, weights_only=True).items()},
        p.own_checkpoint()), lambda p: (p.checkpoint, None), "layer 'conv1'"),
    ("checkpoint with extra weights", lambda p: torch.save(
        {**torch.load(CHECKPOINT, weights_only=True), "extra.weight": torch.zeros(1)}, p.own_checkpoint()),
     lambda p: (p.checkpoint, None), "extra.weight"),
    # the metrics
    ("metrics missing", lambda p: (p.own_checkpoint(), p.metrics.unlink()), lambda p: (p.metrics, None),
     "training metrics not found"),
    ("metrics not JSON", lambda p: (p.own_checkpoint(), p.metrics.write_text("{oops")), lambda p: (p.metrics, None),
     "cannot read the training metrics"),
    ("metrics a list", lambda p: (p.own_checkpoint(), p.metrics.write_text("[1, 2]")), lambda p: (p.metrics, None),
     "must be a JSON object"),
    ("metrics a folder", lambda p: (p.own_checkpoint(), p.metrics.unlink(), p.metrics.mkdir()),
     lambda p: (p.metrics, None), "cannot read the training metrics"),
    ("metrics without test_accuracy", lambda p: edit_metrics(p, lambda m: {k: v for k, v in m.items()
                                                                           if k != "test_accuracy"}),
     lambda p: (p.metrics, None), "no 'test_accuracy' recorded"),
    ("metrics without normalisation", lambda p: edit_metrics(p, lambda m: {k: v for k, v in m.items()
                                                                           if k != "normalisation"}),
     lambda p: (p.metrics, None), "no 'normalisation' recorded"),
    ("normalisation not a number", lambda p: edit_metrics(p, lambda m: {**m, "normalisation": {"mean": "a", "std": 1}}),
     lambda p: (p.metrics, None), "'normalisation' must be"),
    ("normalisation std zero", lambda p: edit_metrics(p, lambda m: {**m, "normalisation": {"mean": 0.3, "std": 0}}),
     lambda p: (p.metrics, None), "std above 0"),
    ("test_accuracy as text", lambda p: edit_metrics(p, lambda m: {**m, "test_accuracy": "93%"}),
     lambda p: (p.metrics, None), "'test_accuracy' must be"),
    ("epochs without their losses", lambda p: edit_metrics(p, lambda m: {**m, "epochs": [{"epoch": 1}]}),
     lambda p: (p.metrics, None), "'epochs' must be"),
    ("confusion matrix not square", lambda p: edit_metrics(p, lambda m: {**m, "confusion_matrix": [[1, 2], [3]]}),
     lambda p: (p.metrics, None), "'confusion_matrix' must be"),
    ("confusion matrix of another model", lambda p: edit_metrics(p, lambda m: {**m, "confusion_matrix": [[1, 0], [0, 1]]}),
     lambda p: (p.metrics, None), "has 2 rows but model.cnn:FashionCNN has 10 classes"),
    ("hyperparameters not an object", lambda p: edit_metrics(p, lambda m: {**m, "hyperparameters": [1]}),
     lambda p: (p.metrics, None), "'hyperparameters' must be"),
    ("metrics of other weights", lambda p: edit_metrics(p, lambda m: {**m, "weights_sha256": "0" * 64}),
     lambda p: (p.metrics, None), "written for other weights"),
    # the files kept beside the checkpoint
    ("snapshots damaged", lambda p: (p.own_checkpoint(), p.beside(".snapshots.npz").write_bytes(b"junk")),
     lambda p: (p.beside(".snapshots.npz"), None), "cannot read the training snapshots"),
    ("snapshots empty", lambda p: (p.own_checkpoint(), p.beside(".snapshots.npz").write_bytes(b"")),
     lambda p: (p.beside(".snapshots.npz"), None), "cannot read the training snapshots"),
    ("snapshots missing", lambda p: (p.own_checkpoint(), p.beside(".snapshots.npz").unlink()),
     lambda p: (p.beside(".snapshots.npz"), None), "training snapshots not found"),
    ("confusion images empty", lambda p: (p.own_checkpoint(), p.beside(".confusion.npz").write_bytes(b"")),
     lambda p: (p.beside(".confusion.npz"), None), "cannot read the test images of the confusion matrix"),
    ("confusion images damaged", lambda p: (p.own_checkpoint(), p.beside(".confusion.npz").write_bytes(b"junk")),
     lambda p: (p.beside(".confusion.npz"), None), "cannot read the test images of the confusion matrix"),
    ("dataset examples damaged", lambda p: (p.own_checkpoint(), p.beside(".examples.npz").write_bytes(b"junk")),
     lambda p: (p.beside(".examples.npz"), None), "cannot read these dataset examples"),
    ("snapshots of other weights", lambda p: reweighted(p, ".snapshots.npz"),
     lambda p: (p.beside(".snapshots.npz"), None), "written for other weights"),
    ("confusion images of other weights", lambda p: reweighted(p, ".confusion.npz"),
     lambda p: (p.beside(".confusion.npz"), None), "chosen by other weights"),
    ("dataset examples of other weights", lambda p: reweighted(p, ".examples.npz"),
     lambda p: (p.beside(".examples.npz"), None), "computed for other weights"),
    # the input images
    ("inputs a file", lambda p: (shutil.rmtree(p.inputs), p.inputs.write_text("x")), lambda p: (p.inputs, None),
     "must be a folder"),
    ("input not an image", lambda p: (p.inputs / "notes.png").write_text("hello"),
     lambda p: (p.inputs / "notes.png", None), "cannot read the image"),
    ("input empty", lambda p: (p.inputs / "empty.png").write_bytes(b""), lambda p: (p.inputs / "empty.png", None),
     "cannot read the image"),
    ("input a folder", lambda p: (p.inputs / "folder.png").mkdir(), lambda p: (p.inputs / "folder.png", None),
     "cannot read the image"),
    ("input of 30,000 × 30,000 pixels", lambda p: png_header(p.inputs / "huge.png", 30000, 30000),
     lambda p: (p.inputs / "huge.png", None), "scale it down"),
    ("input of 10,000 × 10,000 pixels", lambda p: png_header(p.inputs / "large.png", 10000, 10000),
     lambda p: (p.inputs / "large.png", None), "scale it down"),
    ("inputs entry of the wrong kind", lambda p: p.write("inputs:", "  - 3"), at_line("inputs:"), "entry 3 must be"),
    ("inputs file missing", lambda p: p.write("inputs:", "  - file: nowhere.png"), at_line("inputs:"),
     "'nowhere.png' not found"),
    ("inputs label not a class", lambda p: p.write("inputs:", f"  - file: {next(p.inputs.iterdir()).name}",
                                                   "    label: Hat"), at_line("inputs:"), "label 'Hat' is not a class"),
    ("inputs test image past the end", lambda p: p.write("inputs:", "  - test: 10000"), at_line("inputs:"),
     "test image 10000 does not exist"),
    ("inputs test image not a number", lambda p: p.write("inputs:", "  - test: first"), at_line("inputs:"),
     "must be a whole number"),
    ("two inputs with one id", lambda p: [shutil.copy(next(p.inputs.iterdir()), p.inputs / name)
                                          for name in ("a b.png", "a-b.png")], lambda p: (p.article, None),
     "both become input"),
    # the body: Jinja, then Markdown, each at the line the author wrote
    ("template syntax", lambda p: p.write(body=MANY_LINES + "{% if %}\n"), at_line("{% if %}"), "template syntax"),
    ("unknown variable", lambda p: p.write(body=MANY_LINES + "{{ nonsense.value }}\n"), at_line("nonsense"),
     "'nonsense' is undefined"),
    ("a variable that raises", lambda p: p.write(body=MANY_LINES + "{{ 1 / 0 }}\n"), at_line("1 / 0"),
     "division by zero"),
    ("unknown layer after a long table", lambda p: p.write(body=MANY_LINES + "![Deep](layer:conv9)\n"),
     at_line("conv9"), "unknown layer 'conv9'"),
    ("overview with a name", lambda p: p.write(body=MANY_LINES + "![All](overview:conv1)\n"), at_line("overview:"),
     "takes no name"),
    ("figure inside a sentence", lambda p: p.write(body=MANY_LINES + "See ![Maps](layer:conv1) here.\n"),
     at_line("See !["), "stand alone"),
    ("figure twice", lambda p: p.write(body=MANY_LINES + "![A](layer:conv1)\n\n![B](layer:conv1)\n"),
     at_line("![B]"), "already has a figure"),
    ("display maths never closed", lambda p: p.write(body=MANY_LINES + "$$\nx + 1\n"), at_line("$$"), "never closed"),
    ("LaTeX with unbalanced braces", lambda p: p.write(body=MANY_LINES + "So $\\frac{1}{2$.\n"), at_line("frac"),
     "unbalanced braces"),
    ("link to a figure that is not there", lambda p: p.write(body=MANY_LINES + "![A](layer:conv1)\n\nAs [](#fig-conv9)"
                                                                               " shows.\n"),
     at_line("#fig-conv9"), "names no figure"),
    # the theme and the output
    ("template missing", lambda p: (theme_copy(p) / "figure.html").unlink(),
     lambda p: (p.root / "theme" / "templates" / "figure.html", None), "template 'figure.html' not found"),
    ("template syntax in the theme", broken_page_template, lambda p: (p.root / "theme" / "templates" / "page.html", 5),
     "template syntax"),
    ("theme without static/", lambda p: shutil.rmtree(theme_copy(p).parent / "static"), at_line("theme:"),
     "has no static/ folder"),
    ("template reads an unknown variable", lambda p: undefined_in_template(p),
     lambda p: (p.root / "theme" / "templates" / "page.html", line_of(p.root / "theme" / "templates" / "page.html",
                                                                      "nothing.here")), "'nothing' is undefined"),
    ("--out is a file", lambda p: (setattr(p, "out", p.root / "a-file"), p.out.write_text("x"),
                                   p.command.__setitem__(-1, p.out)), lambda p: (p.out, None), "is a file"),
    ("--out under a file", lambda p: p.command.__setitem__(-1, p.article / "site"), lambda p: (p.article / "site", None),
     "cannot create the output folder's parent"),
    # a model that cannot learn from FashionMNIST, refused before training
    ("build --train of 32×32 images", lambda p: untrainable(p, "ThirtyTwo"), at_line("model:"),
     "takes 1×32×32 images but FashionMNIST's are 1×28×28"),
    ("build --train of 5 classes", lambda p: untrainable(p, "FiveClasses"), at_line("model:"),
     "has 5 outputs but FashionMNIST has 10 classes"),
    ("build --train of gradients that cannot be computed",
     lambda p: untrainable(p, "AddsAfterAConvReadIt", module="in_place"), at_line("model:"),
     "cannot compute the gradients of tests.models.in_place:AddsAfterAConvReadIt"),
    ("build --train of sigmoid scores then a dropout", lambda p: untrainable(p, "SequentialScores", module="outputs"),
     at_line("model:"), "drops values out of its scores while training"),
    ("train of probabilities then a dropout", lambda p: train_command(p, "ProbabilitiesThenDropout", module="outputs"),
     lambda p: ("tests/models/outputs.py", None), "drops values out of its probabilities while training"),
    ("train of 32×32 images", lambda p: train_command(p, "ThirtyTwo"), lambda p: ("tests/models/mistakes.py", None),
     "takes 1×32×32 images but FashionMNIST's are 1×28×28"),
    ("train of 5 classes", lambda p: train_command(p, "FiveClasses"), lambda p: ("tests/models/mistakes.py", None),
     "has 5 outputs but FashionMNIST has 10 classes"),
    ("train into metrics of another checkpoint", lambda p: (
        p.own_checkpoint(), setattr(p, "command", ["train", "--checkpoint", p.root / "second.pt", "--metrics",
                                                   p.metrics, "--max-steps", "1"])),
     lambda p: (p.metrics, None), "holds the metrics of cnn.pt"),
    ("train for no epochs", lambda p: train_command(p, "FiveClasses", "--epochs", "0"), lambda p: (None, None),
     "--epochs must be a whole number above 0"),
    ("train on no images", lambda p: train_command(p, "FiveClasses", "--train-subset", "0"), lambda p: (None, None),
     "--train-subset must be a whole number above 0"),
    ("train into a folder", lambda p: train_command(p, "FiveClasses", "--checkpoint", p.root),
     lambda p: (p.root, None), "is a folder"),
    ("train into a file's folder", lambda p: train_command(p, "FiveClasses", "--checkpoint", p.article / "net.pt"),
     lambda p: (p.article / "net.pt", None), "cannot be written"),
]


def model_digest():
    """One hash of model/ (its sources, checkpoint and the files beside it), bytecode caches aside."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "model").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The checkpoint copy every row shares, a build cache, and a site built from it before."""
    root = tmp_path_factory.mktemp("errors")
    checkpoint = copy_checkpoint(root / "model")
    env = {**os.environ, "LAYERWISE_CACHE": str(root / "cache")}
    good = Project(root / "good", checkpoint, root / "site")
    process = subprocess.run([sys.executable, "-m", "builder", *map(str, good.command)], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    return checkpoint, root / "site", env


@pytest.mark.parametrize("name, breaks, where, words", CASES, ids=[case[0] for case in CASES])
def test_a_mistake_is_one_line_naming_its_file(name, breaks, where, words, shared, tmp_path, monkeypatch):
    checkpoint, site, env = shared
    project = Project(tmp_path, checkpoint, site)
    breaks(project)
    path, line = where(project)
    before = (model_digest(), tree_digest(site))

    monkeypatch.setenv("LAYERWISE_CACHE", env["LAYERWISE_CACHE"])
    status, stderr = run_main(*project.command)

    assert status == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    prefix = "error: " if path is None else f"error: {path}:{line}: " if line else f"error: {path}: "
    assert stderr.startswith(prefix), (prefix, stderr)
    assert words in stderr, (words, stderr)
    assert (model_digest(), tree_digest(site)) == before, "model/ or the previous site changed"
