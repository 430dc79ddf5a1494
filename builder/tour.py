"""Read, check and render the guided tour, content/tour.md, into data/tour.json.

    python -m builder build        # publishes data/tour.json when content/tour.md exists

Each `## Title {target=fig-conv1 control=values}` heading starts a step; the
paragraphs under it are its text. A paragraph ending in an attribute list
with `ask=` is the step's question, asked before the page reveals the
answer it computes from the reader's input:

    Will this value be positive?
    {ask=sign layer=conv1 map=1 row=14 column=14}

The attribute lists are Python-Markdown's attr_list. The text is filled in
from the article's variables first ({{ net.conv1.out_channels }}). Every
problem (a target the page does not have, a control it does not know, a
map that does not exist) is a warning naming its line, which `--strict`
turns into a failure; the step, control or question at fault is left out.
"""
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from builder import content, contract
from builder.article import EXTENSIONS, FENCE, expand_variables

TOUR = "tour.md"
LINE = "data-lw-line"  # the attribute that carries each heading's and question's line through Markdown
LINE_MARK = re.compile(rf" {LINE}=(\d+)")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
ATTRIBUTES = re.compile(r"""\{:?\s*((?:[#.]?[\w-]+(?:=(?:"[^"]*"|'[^']*'|[^\s}]+))?\s*)+)\}\s*$""")
STEP_ATTRIBUTES = ("target", "control")
# The kinds of question, each what the reader predicts (its fields: _Checks._ask_<kind>; the page computes the answer).
ASKS = {"sign": "whether one value is positive, zero or negative",
        "brightest": "which map of a layer holds its largest value",
        "winner": "which class the network picks",
        "zeroed": "whether more than half of a layer's values are 0"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Settings:
    """What an author can set at the top of content/tour.md."""
    title: str = "A tour of this page"


def load(content_dir):
    """content_dir/tour.md read and its front matter checked (a content.Article), or None when there is none."""
    path = Path(content_dir) / TOUR
    return content.read(path, Settings) if path.exists() else None


def render(tour, context, page_html, network, problems):
    """The tour's record for data/tour.json, checked against the built page (`page_html`, for the
    targets' ids) and the network (a builder.layers.Description, for the questions' layers)."""
    text, origins = expand_variables(tour, context)
    steps = _Steps(origins)
    md = markdown.Markdown(extensions=[e for e in EXTENSIONS if e != "toc"] + [steps],
                           extension_configs={"smarty": {"smart_quotes": False}}, output_format="html")
    md.convert(text)  # the steps' elements are noted on the way (_Cut); the whole page's HTML is not needed
    page = _Page()
    page.feed(page_html)
    checking = _Checks(tour.path, page, network, problems)
    published = [step for step in (checking.step(found, md) for found in steps.found) if step]
    if not steps.found:
        problems.warn("the tour has no steps; start each with a '## Title {target=…}' heading, "
                      "or delete the file", tour.path, tour.body_line)
    if steps.before:
        problems.warn("text before the first '## ' heading belongs to no step; move it under one",
                      tour.path, steps.before[0] or tour.body_line)
    return dict(title=tour.settings.title, steps=published)


def write(site, record):
    """Publish the tour into a built site: data/tour.json, and the contract names it."""
    path = Path(site) / contract.TOUR_URL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    contract.add_tour(site)


# --- reading: Markdown's tree, cut into steps ------------------------------------------------------

@dataclass
class _Found:
    line: int
    heading: ElementTree.Element
    body: list        # the elements under the heading, the question's among them


class _Steps(Extension):
    """Python-Markdown, with each heading's and question's line kept and the tree cut at the ## headings."""

    def __init__(self, origins):
        super().__init__()
        self.origins = origins
        self.found, self.before = [], []   # the steps; the lines of text before the first

    def extendMarkdown(self, md):
        # As the article's: after normalize_whitespace (30), before html_block (20).
        md.preprocessors.register(_LineMarks(md, self.origins), "layerwise_tour_lines", 25)
        md.treeprocessors.register(_Cut(md, self), "layerwise_tour_steps", 5)  # after attr_list (8)


class _LineMarks(Preprocessor):
    """Write each heading's and each attribute list's line into its attributes."""

    def __init__(self, md, origins):
        super().__init__(md)
        self.origins = origins

    def run(self, lines):
        out, fence = [], None
        for index, line in enumerate(lines):
            marker = FENCE.match(line)
            if fence:
                closes = marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence)
                fence = None if closes else fence
            elif marker:
                fence = marker.group(1)
            else:
                line = self._marked(line, self.origins[min(index, len(self.origins) - 1)])
            out.append(line)
        return out

    @staticmethod
    def _marked(line, where):
        listed = ATTRIBUTES.search(line)
        if listed:
            return f"{line[:listed.end(1)]} {LINE}={where}{line[listed.end(1):]}"
        if HEADING.match(line):
            return f"{line.rstrip().rstrip('#').rstrip()} {{{LINE}={where}}}"
        return line


class _Cut(Treeprocessor):
    """Note the tree's elements step by step: each ## heading and what follows it. The elements stay
    in the tree, so that the treeprocessors after this one (unescape) see them too."""

    def __init__(self, md, steps):
        super().__init__(md)
        self.steps = steps

    def run(self, root):
        for element in root:
            if element.tag == "h2":
                self.steps.found.append(_Found(int(element.attrib.pop(LINE)), element, []))
            elif self.steps.found:
                self.steps.found[-1].body.append(element)
            else:
                self.steps.before.append(_line_of(element))


def _line_of(element):
    """The line a heading or an attribute list was written on, from the element or the first inside it."""
    marked = next((e for e in element.iter() if e.get(LINE)), None)
    return int(marked.get(LINE)) if marked is not None else None


def _html(md, elements):
    """Elements as Markdown writes them, its stored snippets (smart dashes, raw HTML) put back."""
    holder = ElementTree.Element("div")
    holder.extend(elements)
    for element in holder.iter():
        element.attrib.pop(LINE, None)
    html = md.serializer(holder)[len("<div>"):-len("</div>")].strip()
    for postprocessor in md.postprocessors:
        html = postprocessor.run(html)
    return LINE_MARK.sub("", html).strip()  # a mark in a {…} that attr_list did not take (_Checks.step)


# --- checking: against the built page and the network ----------------------------------------------

class _Page(HTMLParser):
    """The ids of a built page, and the classes of the elements inside each."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inside, self.open = {}, []   # id → classes inside it; the open elements, (tag, id)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for _, open_id in self.open:
            if open_id:
                self.inside[open_id].update((attrs.get("class") or "").split())
        if attrs.get("id"):
            self.inside.setdefault(attrs["id"], set())
        if tag not in VOID:
            self.open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass


class _Checks:
    """Check each step and make its record; a problem is a warning, and what it concerns is left out."""

    def __init__(self, path, page, network, problems):
        self.path, self.page, self.network, self.problems = path, page, network, problems

    def warn(self, message, line):
        self.problems.warn(message, self.path, line)

    def step(self, found, md):
        """The step's record, or None when it has no target the page holds."""
        attributes, line = found.heading.attrib, found.line
        for name in sorted(set(attributes) - set(STEP_ATTRIBUTES)):
            self.warn(f"unknown step attribute '{name}' (known: {', '.join(STEP_ATTRIBUTES)})", line)
        title = _text(_html(md, [found.heading]))
        target = self._target(attributes.get("target"), line)
        if target is None:
            return None
        questions = [e for e in found.body if "ask" in e.attrib]
        for extra in questions[1:]:
            self.warn("a step asks one question; move this one to a step of its own", _line_of(extra))
        question = self._question(questions[0], md) if questions else None
        text = [e for e in found.body if e not in questions]
        for element in text:
            inline = LINE_MARK.search("".join(element.itertext()))
            if inline and "{ask=" in "".join(element.itertext()):
                self.warn("the question's {ask=…} must be on a line of its own, under its text", int(inline.group(1)))
        if not text:
            self.warn(f"the step '{title}' has no text; write two or three sentences under its heading", line)
        return dict(title=title, html=_html(md, text), target=target,
                    control=self._control(attributes.get("control"), target, line), question=question)

    def _target(self, target, line):
        if not target:
            self.warn("the step has no target, so it is left out; end its heading with {target=fig-…} "
                      f"(ids: {self._ids()})", line)
            return None
        if target not in self.page.inside:
            self.warn(f"unknown target '{target}', so the step is left out (ids: {self._ids()})", line)
            return None
        return target

    def _ids(self):
        """The ids a step may target: the picker's and the figures'."""
        return ", ".join(sorted(i for i in self.page.inside if i.startswith(("fig-", "lw-picker"))))

    def _control(self, control, target, line):
        if control is None:
            return None
        if control not in contract.TOUR_CONTROLS:
            self.warn(f"unknown control '{control}' (known: {', '.join(contract.TOUR_CONTROLS)})", line)
            return None
        selector, inside = contract.TOUR_CONTROLS[control], self.page.inside[target]
        if not _holds(inside, selector):
            usable = [name for name, each in contract.TOUR_CONTROLS.items() if _holds(inside, each)]
            self.warn(f"'{target}' has no control '{control}' ({selector}); "
                      f"use one it has ({', '.join(usable) or 'none'}) or none", line)
            return None
        return control

    def _question(self, element, md):
        """The question's record, or None (with a warning) when it cannot be asked."""
        fields, line = dict(element.attrib), int(element.attrib.get(LINE, 0)) or None
        element.attrib.clear()
        fields.pop(LINE, None)
        ask = fields.pop("ask")
        try:
            if ask not in ASKS:
                raise _Unusable(f"unknown ask '{ask}' (known: {', '.join(ASKS)})")
            asked = getattr(self, f"_ask_{ask}")(fields)
            if fields:
                raise _Unusable(f"'{ask}' takes no {', '.join(sorted(fields))}")
        except _Unusable as err:
            self.warn(f"{err}; the question is left out", line)
            return None
        return dict(html=_html(md, [element]), ask=ask, **asked)

    def _layer(self, fields, spatial=False):
        name = fields.pop("layer", None)
        known = [layer.id for layer in self.network.layers if layer.spatial or not spatial]
        if not name:
            raise _Unusable(f"the question needs a layer=… ({', '.join(known)})")
        if name not in known:
            kind = "spatial layer" if spatial and name in {each.id for each in self.network.layers} else "layer"
            raise _Unusable(f"unknown {kind} '{name}' (known: {', '.join(known)})")
        return self.network.layer(name)

    def _ask_sign(self, fields):
        layer = self._layer(fields)
        if layer.spatial:
            maps, rows, cols = layer.shape
            return dict(layer=layer.id, at=[_number(fields, "map", maps, layer) - 1,
                                            _number(fields, "row", rows, layer) - 1,
                                            _number(fields, "column", cols, layer) - 1])
        unit = _number(fields, "unit", layer.size, layer) - 1
        _, cols = layer.grid
        return dict(layer=layer.id, at=[0, unit // cols, unit % cols])

    def _ask_brightest(self, fields):
        layer = self._layer(fields, spatial=True)
        asked = dict(layer=layer.id)
        if "maps" in fields:
            asked["maps"] = [_within(n, "map", layer.shape[0], layer) - 1 for n in _listed(fields.pop("maps"))]
        return asked

    def _ask_winner(self, fields):
        last = self.network.layers[-1]
        if fields.get("layer", last.id) != last.id:
            raise _Unusable(f"the winner is read from the last layer, '{last.id}'; leave out layer=")
        fields.pop("layer", None)
        asked = dict(layer=last.id)
        if "classes" in fields:
            names = [name.strip() for name in fields.pop("classes").split(",") if name.strip()]
            unknown = [name for name in names if name not in self.network.classes]
            if unknown or len(names) < 2:
                raise _Unusable(f"classes= names two or more of {', '.join(self.network.classes)}, "
                                f"separated by commas{'; not ' + ', '.join(unknown) if unknown else ''}")
            asked["classes"] = [self.network.classes.index(name) for name in names]
        return asked

    def _ask_zeroed(self, fields):
        return dict(layer=self._layer(fields).id)


class _Unusable(Exception):
    """A question the page cannot ask: what is wrong with it and how to fix it."""


def _number(fields, name, count, layer):
    if name not in fields:
        raise _Unusable(f"the question needs {name}=… (1 to {count} in {layer.id})")
    return _within(fields.pop(name), name, count, layer)


def _within(value, name, count, layer):
    """A number counted from 1, as the page shows maps, rows and columns."""
    if not str(value).isdigit() or not 1 <= int(value) <= count:
        raise _Unusable(f"{name} {value} is not in {layer.id} (it has {count}: 1 to {count})")
    return int(value)


def _holds(classes, selector):
    """Whether elements of these classes can match one of the selector's alternatives (of classes only, as
    contract.TOUR_CONTROLS's are): the build's check that a control is in its target's HTML."""
    return any(set(re.findall(r"\.([\w-]+)", alternative)) <= classes for alternative in selector.split(","))


def _listed(value):
    return [part for part in re.split(r"[\s,]+", value) if part]


def _text(html):
    """The plain text of a bit of HTML."""
    class Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts = []

        def handle_data(self, data):
            self.parts.append(data)
    parser = Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()
