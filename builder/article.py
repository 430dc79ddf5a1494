"""Render the article's body: Jinja variables first, then Markdown with figures and maths.

Two additions to Python-Markdown, both checked against the source's line numbers (the lines the
author wrote: Jinja's expansion is tracked, see expand_variables):

- `![caption](layer:conv1)` standing alone in a paragraph becomes Figure N, an
  element with id `fig-conv1`; `[](#fig-conv1)` becomes a link reading "Figure N".
  `![caption](chart:training)` does the same for a chart of the training record, and
  `![caption](attribution:)` for the attribution of the chosen input (id `fig-attribution`),
  `![caption](examples:conv2)` for what each channel of a layer looks for (id
  `fig-examples-conv2`) and `![caption](overview:)` for the whole network at a glance.
- `$…$` and `$$…$$` become MathML at build time (latex2mathml), so the page
  needs no maths script. `\\$` is a literal dollar sign.
"""
import re
import traceback
from dataclasses import dataclass

import jinja2
import markdown
from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from latex2mathml.converter import convert as latex_to_mathml
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from builder.errors import BuildError
from builder.variables import FILTERS

EXTENSIONS = ["tables", "footnotes", "attr_list", "fenced_code", "toc", "sane_lists", "smarty"]
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]*?\S)\$(?!\d)")
UNKNOWN_COMMAND = re.compile(r"<mi>(\\[A-Za-z]+)</mi>")
MATHML = "http://www.w3.org/1998/Math/MathML"
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)")  # inline, or a reference's definition
# Each line of text the author wrote is marked with its line number while Jinja expands the body;
# the marks (private-use characters, which no article holds) are taken out before Markdown runs.
LINE_MARK = re.compile("\ue000(\\d+)\ue001")


@dataclass
class Figure:
    number: int
    scheme: str     # the kind of figure, before the colon (builder/figures.py)
    target: str     # the layer id, the chart's name, … ("" for a kind that takes none)
    caption: str
    line: int

    @property
    def id(self):
        """fig-<layer> and fig-<chart>, as links already use; fig-<kind>[-<name>] for the others."""
        if self.scheme in ("layer", "chart"):
            return f"fig-{self.target}"
        return "-".join(part for part in ("fig", self.scheme, self.target) if part)


@dataclass
class Rendered:
    html: str
    figures: list
    toc: list        # Python-Markdown's toc_tokens: nested dicts of level, id, name, children


def render(article, context, targets, render_figure, problems):
    """Return the body as HTML; `targets` maps each kind of figure an author may write,
    `![caption](scheme:target)` (builder/figures.py), to the names it may show ([""] for a kind that takes none),
    and `render_figure(Figure) -> html` draws each figure."""
    body, origins = expand_variables(article, context)
    source = _Source(article, origins, targets, problems)
    md = markdown.Markdown(extensions=EXTENSIONS + [_Layerwise(source, render_figure)],
                           extension_configs={"toc": {"toc_depth": 2},  # the contents list the ## sections
                                              "smarty": {"smart_quotes": False}},
                           output_format="html")
    html = md.convert(body)
    for url, indices in source.links.items():  # so that a link found broken in the built page names its line
        problems.wrote_link(url, article.path, source.line(indices[0]))
    return Rendered(html, source.figures, md.toc_tokens)


def expand_variables(article, context):
    """Fill in {{ … }} from the build (shapes, accuracy, predictions) before Markdown sees the text.

    Returns (the text, the article's line each of its lines comes from). A value of many lines
    comes from the line of its {{ … }}; a {% for %} body's lines from where the body is written."""
    # Comments are {## … ##}: Markdown's attribute lists already use {#id}.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                             comment_start_string="{##", comment_end_string="##}")
    env.filters.update(FILTERS, **{_LineMarks.UNMARKED: _unmarked})
    try:
        marked = env.from_string(_LineMarks().visit(env.parse(article.body))).render(context)
    except jinja2.TemplateSyntaxError as err:
        raise BuildError(f"template syntax: {err.message}", article.path, article.body_line + err.lineno - 1) from None
    except jinja2.UndefinedError as err:
        line = _jinja_error_line(err, article)
        raise BuildError(f"{err.message}; the variables are {', '.join(sorted(context))} "
                         "(see README, 'Numbers in the text')", article.path, line) from None
    except Exception as err:  # a filter or attribute raised: still the author's expression
        raise BuildError(f"cannot fill in a variable: {err}", article.path, _jinja_error_line(err, article)) from None
    return _unmark(marked, article.body_line)


class _LineMarks(NodeTransformer):
    """Start each line of the template's text with a mark naming its line, and take the marks out
    of every value an expression reads, so that they change nothing Jinja outputs.

    Text with marks reaches a value only as what a macro, a caller, a block or a loop called again
    returns (a call) or as what a {% set %} or {% filter %} block captures: a call printed as it is
    keeps its marks, to be taken out with the others once the text is written; any other call, and
    every captured text, has them taken out before anything reads it. The lexer has already applied
    whitespace control ({%- … -%}) to the text."""
    UNMARKED = "_layerwise_unmarked"

    def visit_TemplateData(self, node):
        node.data = "\n".join(f"\ue000{node.lineno + i}\ue001{line}" for i, line in enumerate(node.data.split("\n")))
        return node

    def visit_Call(self, node):
        return nodes.Filter(self.generic_visit(node), self.UNMARKED, [], [], None, None, lineno=node.lineno)

    def visit_Output(self, node):
        node.nodes = [self._printed(child) for child in node.nodes]
        return node

    def visit_CallBlock(self, node):
        node.call = self._printed(node.call)
        node.defaults, node.body = [self.visit(d) for d in node.defaults], [self.visit(c) for c in node.body]
        return node

    def visit_AssignBlock(self, node):
        return self._unmarked_first(self.generic_visit(node))

    visit_FilterBlock = visit_AssignBlock

    def _printed(self, node):
        return self.generic_visit(node) if isinstance(node, nodes.Call) else self.visit(node)

    def _unmarked_first(self, block):
        """The block's filters, if any, applied to its text without marks."""
        unmarked = nodes.Filter(None, self.UNMARKED, [], [], None, None, lineno=block.lineno)
        if block.filter is None:
            block.filter = unmarked
            return block
        innermost = block.filter
        while innermost.node is not None:
            innermost = innermost.node
        innermost.node = unmarked
        return block


def _unmarked(value):
    return LINE_MARK.sub("", value) if isinstance(value, str) else value


def _unmark(marked, first_line):
    """(the text without its marks, the article line of each of its lines): a line that starts
    with a mark comes from that line; any other came out of a {{ … }} of many lines, written on
    the line of the last mark before it."""
    text, origins, last = [], [], None
    for line in marked.split("\n"):
        start = LINE_MARK.match(line)
        origins.append(int(start.group(1)) + first_line - 1 if start else last)
        marks = LINE_MARK.findall(line)
        last = int(marks[-1]) + first_line - 1 if marks else last
        text.append(LINE_MARK.sub("", line))
    return "\n".join(text), origins


def _jinja_error_line(err, article):
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if frame.filename == "<template>":
            return article.body_line + frame.lineno - 1
    return None


class _Source:
    """The body's lines as the author wrote them, so every problem can name its line."""

    def __init__(self, article, origins, targets, problems):
        self.path, self.origins = article.path, origins  # origins: the article line of each expanded line
        self.targets, self.problems = targets, problems
        schemes = "|".join(map(re.escape, targets))
        self.figure_ref = re.compile(rf"!\[([^\]]*)\]\(({schemes}):([^)\s]*)\)")
        self.written = {}  # (scheme, target) → indices of the lines that reference it
        self.links = {}    # a URL → indices of the lines that link to it
        self.figures = []

    def line(self, index):
        """The article's line of the expanded body's line `index` (Markdown adds blank lines at the end)."""
        return None if index is None else self.origins[min(index, len(self.origins) - 1)]

    def error(self, message, index):
        return BuildError(message, self.path, self.line(index))

    def warn(self, message, index):
        self.problems.warn(message, self.path, self.line(index))


class _Layerwise(Extension):
    def __init__(self, source, render_figure):
        super().__init__()
        self.source, self.render_figure = source, render_figure

    def extendMarkdown(self, md):
        # After normalize_whitespace (30), which keeps lines but would strip the stash's markers,
        # and before html_block (20), so list indices are still the source's lines.
        md.preprocessors.register(_SourcePreprocessor(md, self.source), "layerwise_source", 25)
        md.treeprocessors.register(_FigureTreeprocessor(md, self.source, self.render_figure),
                                   "layerwise_figures", 5)


class _SourcePreprocessor(Preprocessor):
    """Find figure references and maths outside code; turn the maths into stashed MathML."""

    def __init__(self, md, source):
        super().__init__(md)
        self.source = source

    def run(self, lines):
        out, fence, block = [], None, None
        for index, line in enumerate(lines):
            marker = FENCE.match(line)
            if fence:
                fence = None if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) else fence
                out.append(line)
            elif marker:
                fence = marker.group(1)
                out.append(line)
            elif block is not None:
                block[1].append(line)
                if line.rstrip().endswith("$$"):
                    out.extend(self._display_math(block[0], block[1]))
                    block = None
            elif line.lstrip().startswith("$$"):
                if line.strip() != "$$" and line.rstrip().endswith("$$"):
                    out.extend(self._display_math(index, [line]))
                else:
                    block = (index, [line])
            else:
                self._note_references(line, index)
                out.append(self._inline_math(line, index))
        if block is not None:
            raise self.source.error("'$$' opens display maths that is never closed; end it with '$$'", block[0])
        return out

    def _note_references(self, line, index):
        """Remember where each figure reference and each link is written; the tree decides which
        figures are real, the built page's check which links are broken."""
        text = CODE_SPAN.sub("", line)
        for match in self.source.figure_ref.finditer(text):
            self.source.written.setdefault(match.group(2, 3), []).append(index)
        for inline, defined in LINK.findall(text):
            self.source.links.setdefault(inline or defined, []).append(index)

    def _inline_math(self, line, index):
        """Convert $…$ in the text between code spans; code spans stay as written."""
        pieces, last = [], 0
        for span in CODE_SPAN.finditer(line):
            pieces += [self._math_in_text(line[last:span.start()], index), span.group(0)]
            last = span.end()
        return "".join(pieces + [self._math_in_text(line[last:], index)])

    def _math_in_text(self, text, index):
        text = INLINE_MATH.sub(lambda m: self._stash(m.group(1), "inline", index), text)
        return text.replace("\\$", self.md.htmlStash.store("$"))

    def _display_math(self, index, lines):
        latex = "\n".join(lines).strip()[2:-2]
        return ["", self._stash(latex, "block", index), ""]

    def _stash(self, latex, display, index):
        if latex.count("{") - latex.count("\\{") != latex.count("}") - latex.count("\\}"):
            raise self.source.error(f"unbalanced braces in the maths '{latex.strip()}'", index)
        try:
            mathml = latex_to_mathml(latex.strip(), display=display)
        except Exception as err:  # latex2mathml's own exception types carry no message
            raise self.source.error(f"cannot convert the maths '{latex.strip()}' "
                                    f"({type(err).__name__}); check the LaTeX", index) from None
        for command in UNKNOWN_COMMAND.findall(mathml):
            self.source.warn(f"unknown LaTeX command '{command}' in '{latex.strip()}'", index)
        mathml = mathml.replace(f' xmlns="{MATHML}"', "", 1)  # HTML puts <math> in MathML's namespace itself
        if display == "block":
            mathml = f'<div class="lw-math">{mathml}</div>'
        return self.md.htmlStash.store(mathml)


class _FigureTreeprocessor(Treeprocessor):
    """Replace each paragraph holding only a layer image with its rendered figure."""

    def __init__(self, md, source, render_figure):
        super().__init__(md)
        self.source, self.render_figure = source, render_figure

    def run(self, root):
        parents = {child: parent for parent in root.iter() for child in parent}
        kinds = tuple(f"{scheme}:" for scheme in self.source.targets)
        for image in [img for img in root.iter("img") if img.get("src", "").startswith(kinds)]:
            scheme, _, target = image.get("src").partition(":")
            lines = self.source.written.get((scheme, target)) or [None]
            figure = self._figure(scheme, target, (image.get("alt") or "").strip(), lines.pop(0))
            paragraph = parents[image]
            if paragraph.tag != "p" or len(paragraph) != 1 or (paragraph.text or "").strip() \
                    or (image.tail or "").strip():
                raise self.source.error("a figure must stand alone in its paragraph; "
                                        "put a blank line before and after it", figure.line)
            paragraph.remove(image)
            paragraph.text = self.md.htmlStash.store(self.render_figure(figure))
        self._name_references(root)

    def _figure(self, scheme, target, caption, line):
        """Check one figure reference and number it in the order the page shows it."""
        known = self.source.targets.get(scheme, [])
        if known == [""] and target:
            raise self.source.error(f"'{scheme}:' takes no name; write ![caption]({scheme}:)", line)
        if target not in known:
            what = f"unknown {scheme} '{target}'" if target else f"'{scheme}:' needs a name"
            raise self.source.error(f"{what} (known: {', '.join(known) or 'none for this model'})", line)
        figure = Figure(len(self.source.figures) + 1, scheme, target, caption, line)
        if any(f.id == figure.id for f in self.source.figures):
            raise self.source.error(f"{scheme} '{target}' already has a figure (id {figure.id}); show each once",
                                    line)
        if not caption:
            self.source.warn(f"the figure of '{target or scheme}' has no caption; write one between the brackets",
                             line)
        self.source.figures.append(figure)
        return figure

    def _name_references(self, root):
        """Write "Figure N" into each empty link to a figure; a link to a figure that is not there is
        an error (an empty one would show nothing)."""
        numbers = {f"#{f.id}": f.number for f in self.source.figures}
        for link in root.iter("a"):
            href = link.get("href") or ""
            if href.startswith("#fig-") and href not in numbers:
                lines = self.source.links.get(href) or [None]
                raise self.source.error(f"the link to '{href}' names no figure of this article (figures: "
                                        f"{', '.join(numbers) or 'none'}); fix the link or add the figure",
                                        lines[0])
            if href in numbers and not "".join(link.itertext()).strip():
                link.text = f"Figure {numbers[href]}"
