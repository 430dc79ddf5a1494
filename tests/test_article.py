"""The article's Markdown: figures, maths, and mistakes reported as `file:line: what`."""
from html.parser import HTMLParser

import pytest

from builder import network
from builder.build import build
from builder.errors import BuildError
from model.cnn import FashionCNN

LAYER_IDS = [layer.id for layer in network.describe(FashionCNN())]


class _Page(HTMLParser):
    """The <article>'s figures (id, layer, caption text), MathML elements, links and code, in order."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.figures, self.maths, self.links, self.code, self.paragraphs = [], [], {}, [], []
        self._open = []  # (tag, record) of the elements whose text is being collected
        self._in_article = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._in_article |= tag == "article"
        if not self._in_article:
            return
        attrs = dict(attrs)
        if tag == "figure":
            self.figures.append(dict(id=attrs.get("id"), layer=attrs.get("data-layer"), caption=""))
        elif tag == "math":
            self.maths.append(dict(display=attrs.get("display"), tags=[]))
        elif self.maths and any(t == "math" for t, _ in self._open):
            self.maths[-1]["tags"].append(tag)
        if tag in ("figcaption", "a", "code", "math", "p"):
            record = dict(href=attrs.get("href"), text="")
            self._open.append((tag, record))

    def handle_endtag(self, tag):
        self._in_article &= tag != "article"
        if self._open and self._open[-1][0] == tag:
            _, record = self._open.pop()
            if tag == "figcaption":
                self.figures[-1]["caption"] = " ".join(record["text"].split())
            elif tag == "a":
                self.links[record["href"]] = record["text"].strip()
            elif tag == "code":
                self.code.append(record["text"])
            elif tag == "p":
                self.paragraphs.append(record["text"].strip())

    def handle_data(self, data):
        for _, record in self._open:
            record["text"] += data


@pytest.fixture
def build_article(make_content, tmp_path, monkeypatch):
    """Build `body` as content/article.md from inside tmp_path; return the parsed page."""
    monkeypatch.chdir(tmp_path)  # paths in messages then read content/article.md, as for an author

    def run(body, front=()):
        make_content(body, front)
        build("content", "site", log=lambda message: None)
        return _Page((tmp_path / "site" / "index.html").read_text(encoding="utf-8"))
    return run


def line_of(path, text):
    """The 1-based line of the article file on which `text` is written."""
    return next(n for n, line in enumerate(path.read_text().split("\n"), 1) if text in line)


def test_figures_are_numbered_in_order_with_ids_and_captions(build_article):
    """Figures are numbered as they appear, get id fig-<layer>, and their alt text becomes the caption."""
    page = build_article("Some text; see [](#fig-fc2).\n\n"
                         "![What ReLU leaves](layer:relu1)\n\n"
                         "Between.\n\n"
                         "![The first filters](layer:conv1)\n\n"
                         "![The scores](layer:fc2)\n")
    assert [(f["id"], f["layer"]) for f in page.figures] == [
        ("fig-relu1", "relu1"), ("fig-conv1", "conv1"), ("fig-fc2", "fc2")]
    for number, (figure, caption) in enumerate(zip(page.figures, ["What ReLU leaves", "The first filters",
                                                                  "The scores"]), 1):
        assert figure["caption"].startswith(f"Figure {number}. {caption}"), figure
    assert page.links["#fig-fc2"] == "Figure 3"


def test_dollar_maths_becomes_mathml(build_article):
    """`$x^2$` becomes inline MathML, `$$…$$` block MathML; code spans and `\\$` keep their dollars."""
    page = build_article("Square $x^2$ costs \\$5, and `$y$` is code.\n\n"
                         "$$\\frac{a}{b}$$\n")
    assert [m["display"] for m in page.maths[:2]] == ["inline", "block"]  # the theme may add more after
    assert "msup" in page.maths[0]["tags"] and "mfrac" in page.maths[1]["tags"]
    assert page.code[0] == "$y$"
    assert page.paragraphs[0].endswith("costs $5, and $y$ is code.")


def test_unknown_layer_names_the_file_line_and_known_layers(make_content, tmp_path, monkeypatch):
    """An unknown layer stops the build with `content/article.md:LINE: unknown layer …` and writes nothing."""
    monkeypatch.chdir(tmp_path)
    path = make_content("Intro.\n\nMore text.\n\n![Deep](layer:conv9)\n", front=["title: A test"])
    with pytest.raises(BuildError) as error:
        build("content", "site", log=lambda message: None)
    line = line_of(path, "layer:conv9")
    assert str(error.value) == f"content/article.md:{line}: unknown layer 'conv9' (known: {', '.join(LAYER_IDS)})"
    assert not (tmp_path / "site").exists()


def test_figures_in_code_spans_and_fenced_blocks_are_ignored(build_article):
    """A figure written inside a code span or a fenced block is code, not a figure."""
    page = build_article("Write `![caption](layer:conv9)` on its own line.\n\n"
                         "```markdown\n![caption](layer:conv1)\n```\n\n"
                         "~~~\n![caption](layer:conv8)\n~~~\n\n"
                         "![The real one](layer:conv1)\n")
    assert [(f["id"], f["caption"][:9]) for f in page.figures] == [("fig-conv1", "Figure 1.")]
    assert page.code[:3] == ["![caption](layer:conv9)", "![caption](layer:conv1)\n", "![caption](layer:conv8)\n"]


def test_figure_in_an_indented_code_block_is_ignored(build_article):
    """A figure in an indented code block is code too: it neither counts nor shifts the real figures."""
    page = build_article("Example:\n\n    ![caption](layer:relu1)\n\n![The scores](layer:fc2)\n")
    assert [(f["id"], f["layer"]) for f in page.figures] == [("fig-fc2", "fc2")]
    assert page.figures[0]["caption"].startswith("Figure 1. The scores")


def test_figure_sharing_its_paragraph_is_an_error_on_its_line(make_content, tmp_path, monkeypatch):
    """A figure with text in its paragraph stops the build naming the figure's own line."""
    monkeypatch.chdir(tmp_path)
    path = make_content("Intro.\n\nA sentence that runs on\n![Maps](layer:conv1) and more.\n")
    with pytest.raises(BuildError) as error:
        build("content", "site", log=lambda message: None)
    assert str(error.value).startswith(f"content/article.md:{line_of(path, 'layer:conv1')}: ")
    assert "alone" in error.value.message
