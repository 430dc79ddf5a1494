"""`python -m builder build` end to end, as an author runs it from the repository root."""
import re
import shutil

from builder import network
from conftest import CHECKPOINT, METRICS, run_cli, tree_digest
from model.cnn import FashionCNN

LAYER_IDS = [layer.id for layer in network.describe(FashionCNN())]


def test_build_of_the_real_content_shows_every_layer_once_in_order(built):
    """The real article builds (exit 0) into a page with one figure per layer, fig-<layer>, numbered in order."""
    assert built.process.returncode == 0
    html = (built.site / "index.html").read_text(encoding="utf-8")
    layer_figures = re.findall(r'<figure\b[^>]*\bid="fig-([^"]+)"[^>]*\bdata-layer="([^"]+)"', html)
    assert [layer for _, layer in layer_figures] == LAYER_IDS and len(layer_figures) == 11
    assert all(fid == layer for fid, layer in layer_figures)
    numbers = [int(n) for n in re.findall(r'class="lw-number">Figure (\d+)\.', html)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 11


def test_failed_build_prints_one_line_and_keeps_the_previous_site(built, make_content, tmp_path):
    """An unknown layer exits 1 with one `error: file:line: …` line, no traceback, and the old site intact."""
    out = tmp_path / "site"
    shutil.copytree(built.site, out)
    article = make_content("Intro.\n\n![Deep](layer:conv9)\n")
    before, neighbours = tree_digest(out), sorted(tmp_path.iterdir())
    line = next(n for n, text in enumerate(article.read_text().split("\n"), 1) if "conv9" in text)

    process = run_cli("build", "--content", article.parent, "--out", out)

    assert process.returncode == 1
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr
    assert process.stderr.startswith(f"error: {article}:{line}: unknown layer 'conv9' (known: ")
    assert tree_digest(out) == before
    assert sorted(tmp_path.iterdir()) == neighbours, "no temporary folder left beside the site"


def test_truncated_checkpoint_is_a_one_line_error_and_no_retraining(make_content, tmp_path):
    """A cut-off checkpoint is reported in one line naming it; nothing is trained and nothing written."""
    damaged = tmp_path / "model" / "cnn.pt"
    damaged.parent.mkdir()
    damaged.write_bytes(CHECKPOINT.read_bytes()[:CHECKPOINT.stat().st_size // 2])
    shutil.copy(METRICS, damaged.with_suffix(".json"))
    before = tree_digest(damaged.parent)
    article = make_content("![Maps](layer:conv1)\n", checkpoint=damaged)

    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site")

    assert process.returncode == 1
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr
    assert process.stderr.startswith(f"error: {damaged}: ") and re.search("truncated|corrupt", process.stderr)
    assert "training" not in process.stdout + process.stderr
    assert tree_digest(damaged.parent) == before and not (tmp_path / "site").exists()
