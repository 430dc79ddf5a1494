"""The guided tour's build side: content/tour.md becomes data/tour.json, checked against the page and the network.

The published tour is read against the Markdown as written (its headings and attribute lists found
here with a regular expression, not with the builder's Markdown), its targets against the ids of the
built index.html, its questions against data/network.json; a tour full of mistakes must fail a
--strict build naming the line of each.
"""
import json
import re
import shutil
from html.parser import HTMLParser

import pytest

from builder import build as building
from builder.errors import BuildError
from conftest import CONTENT, CONTRACT, REPO, contract_of, tree_digest

HEADING = re.compile(r"^## (.+?)\s*\{([^}]*)\}\s*$")
QUESTION = re.compile(r"^\{(ask=.*)\}\s*$")  # its values may be {{ … }}


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.classes = set(), set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.add(attrs.get("id"))
        self.classes.update((attrs.get("class") or "").split())


def parsed(html):
    page = Ids()
    page.feed(html)
    return page


def attributes(listed):
    return dict(re.findall(r"""([\w-]+)=("[^"]*"|\S+)""", listed))


def tour_of(site):
    return json.loads((site / "data" / "tour.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def written():
    """The steps of content/tour.md as its author wrote them: (title, heading attributes, question attributes)."""
    steps = []
    for line in (CONTENT / "tour.md").read_text(encoding="utf-8").split("\n"):
        if heading := HEADING.match(line):
            steps.append((heading.group(1), attributes(heading.group(2)), None))
        elif question := QUESTION.match(line):
            steps[-1] = (*steps[-1][:2], attributes(question.group(1)))
    return steps


def test_the_published_tour_is_the_markdown_one(site, written):
    """Each ## heading is a step, in order, with its target, control and question kind."""
    tour = tour_of(site)
    assert [step["title"] for step in tour["steps"]] == [title for title, _, _ in written]
    for step, (_, heading, question) in zip(tour["steps"], written):
        assert step["target"] == heading["target"]
        assert step["control"] == heading.get("control")
        assert (step["question"] or {}).get("ask") == (question or {}).get("ask")
        for html in (step["html"], (step["question"] or {}).get("html", "")):
            assert "{{" not in html and "{ask" not in html and "data-lw-line" not in html, html
        assert step["html"].startswith("<p>") and len(step["html"]) > 80


def test_the_default_tour_walks_the_page_and_asks_first(site):
    """8–12 steps, from the picker to drawing, at least three asking the reader to predict."""
    steps = tour_of(site)["steps"]
    assert 8 <= len(steps) <= 12
    assert (steps[0]["target"], steps[-1]["target"], steps[-1]["control"]) == ("lw-picker", "lw-picker", "draw")
    assert {"fig-conv1", "fig-relu1", "fig-pool1", "fig-overview", "fig-fc1", "fig-fc2",
            "fig-attribution"} <= {step["target"] for step in steps}
    asks = [step["question"]["ask"] for step in steps if step["question"]]
    assert len(asks) >= 3 and {"sign", "brightest", "winner"} <= set(asks)


def test_every_target_and_control_is_on_the_built_page(site):
    """Targets are ids of index.html; each control is in the contract and its classes are in the page."""
    page = parsed((site / "index.html").read_text(encoding="utf-8"))
    contract = contract_of(site)
    assert contract["urls"]["tour"] == "data/tour.json"
    assert "lw-tour-open" in page.classes and "lw-picker" in page.ids
    for step in tour_of(site)["steps"]:
        assert step["target"] in page.ids, step
        if step["control"]:
            selector = contract["tour_controls"][step["control"]]
            assert any(set(re.findall(r"\.([\w-]+)", each)) <= page.classes for each in selector.split(","))


def test_every_question_lies_within_its_layer(site, network_json):
    """A sign's position, a brightest question's maps and a winner's classes exist in the network."""
    layers = {layer["id"]: layer for layer in network_json["layers"]}
    for step in tour_of(site)["steps"]:
        question = step["question"]
        if not question:
            continue
        layer = layers[question["layer"]]
        if question["ask"] == "sign":
            shape = layer["shape"] if len(layer["shape"]) == 3 else [1, *layer["grid"]]
            assert len(question["at"]) == 3 and all(0 <= i < n for i, n in zip(question["at"], shape)), question
        elif question["ask"] == "brightest":
            assert len(layer["shape"]) == 3
            assert all(0 <= k < layer["shape"][0] for k in question.get("maps", []))
        elif question["ask"] == "winner":
            assert question["layer"] == network_json["layers"][-1]["id"]
            assert all(0 <= i < len(network_json["classes"]) for i in question.get("classes", []))
        else:
            assert question["ask"] == "zeroed"


# --- an author's tour: mistakes, and no tour at all --------------------------------------------------

FAULTY = """---
title: Mistakes
---
Text before any step.

## A good step {target=fig-conv1 control=values}

Select a value.

Will it be positive?
{ask=sign layer=conv1 map=1 row=1 column=1}

## No target

Text.

## A figure that is not there {target=fig-conv9}

Text.

## An unknown control {target=fig-conv1 control=knob}

Text.

## A control the target lacks {target=fig-conv1 control=scores}

Text.

## An unknown attribute {target=fig-fc2 colour=red}

Text.

## Layers and positions {target=fig-conv1}

Text.

A layer that is not there?
{ask=sign layer=conv9 map=1 row=1 column=1}

A second question?
{ask=zeroed layer=relu1}

## A map too far {target=fig-conv1}

Text.

Map seventeen?
{ask=sign layer=conv1 map=17 row=1 column=1}

## A row too far {target=fig-conv1}

Text.

Row twenty-nine?
{ask=sign layer=conv1 map=1 row=29 column=1}

## A column before the first {target=fig-conv1}

Text.

Column zero?
{ask=sign layer=conv1 map=1 row=1 column=0}

## No position {target=fig-conv1}

Text.

Where?
{ask=sign layer=conv1}

## A unit too far {target=fig-fc2}

Text.

Unit 99?
{ask=sign layer=fc2 unit=99}

## Maps of a vector {target=fig-fc2}

Text.

Brightest?
{ask=brightest layer=fc2}

## An unknown class {target=fig-fc2}

Text.

Which?
{ask=winner classes="Sandal, Spaceship"}

## An unknown ask {target=fig-fc2}

Text.

Guess?
{ask=guess layer=fc2}

## A question on the text's line {target=fig-fc2}

Text.

Which one? {ask=winner}

## Only a question {target=fig-fc2}

Which class?
{ask=winner}
"""

EXPECTED = [  # (what the line holds, what its warning says)
    ("Text before any step.", "text before the first '## ' heading"),
    ("## No target", "the step has no target"),
    ("{target=fig-conv9}", "unknown target 'fig-conv9'"),
    ("control=knob", "unknown control 'knob'"),
    ("control=scores", "'fig-conv1' has no control 'scores'"),
    ("colour=red", "unknown step attribute 'colour'"),
    ("layer=conv9", "unknown layer 'conv9'"),
    ("ask=zeroed layer=relu1", "a step asks one question"),
    ("map=17", "map 17 is not in conv1"),
    ("row=29", "row 29 is not in conv1"),
    ("column=0", "column 0 is not in conv1"),
    ("{ask=sign layer=conv1}", "needs map="),
    ("unit=99", "unit 99 is not in fc2"),
    ("{ask=brightest layer=fc2}", "unknown spatial layer 'fc2'"),
    ("Spaceship", "not Spaceship"),
    ("ask=guess", "unknown ask 'guess'"),
    ("Which one? {ask=winner}", "must be on a line of its own"),
    ("## Only a question", "has no text"),
]


def line_of(path, needle):
    return next(n for n, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1) if needle in text)


@pytest.fixture
def author(make_content, monkeypatch):
    """A small content folder whose article has the figures of conv1 and fc2, and a build of it."""
    monkeypatch.chdir(REPO)
    article = make_content("![The maps](layer:conv1)\n\n![The outputs](layer:fc2)\n")

    def build(out, strict=False):
        return building.build(article.parent, out, strict=strict, log=lambda message: None)
    return article.parent, build


def test_strict_names_the_line_of_every_mistake(author, tmp_path):
    content, build = author
    tour = content / "tour.md"
    tour.write_text(FAULTY, encoding="utf-8")
    with pytest.raises(building.StrictFailure) as failure:
        build(tmp_path / "site", strict=True)
    report = str(failure.value)
    for needle, said in EXPECTED:
        line = f"{tour}:{line_of(tour, needle)}: "
        assert any(said in warning for warning in report.split("\n") if warning.startswith(line)), (line, said, report)
    assert len(failure.value.warnings) == len(EXPECTED)
    assert not (tmp_path / "site").exists()


def test_without_strict_the_faults_are_left_out(author, tmp_path):
    """The steps without a target the page holds are left out, and so are bad controls and questions."""
    content, build = author
    (content / "tour.md").write_text(FAULTY, encoding="utf-8")
    build(tmp_path / "site")
    steps = {step["title"]: step for step in tour_of(tmp_path / "site")["steps"]}
    assert "No target" not in steps and "A figure that is not there" not in steps
    assert steps["A good step"]["question"]["at"] == [0, 0, 0]
    assert steps["An unknown control"]["control"] is None and steps["A control the target lacks"]["control"] is None
    assert all(steps[title]["question"] is None for title in ("A map too far", "A unit too far", "An unknown ask"))
    assert steps["Only a question"]["question"]["layer"] == "fc2"
    assert "data-lw-line" not in json.dumps(steps)  # the builder's marks of lines never reach the page


def test_no_tour_file_no_tour(author, tmp_path):
    """Without content/tour.md: no data/tour.json, no URL or controls in the contract, no Tour button."""
    content, build = author
    build(tmp_path / "site")
    site = tmp_path / "site"
    assert not (site / "data" / "tour.json").exists()
    contract = contract_of(site)
    assert "tour" not in contract["urls"] and "tour_controls" not in contract
    assert "lw-tour-open" not in parsed((site / "index.html").read_text(encoding="utf-8")).classes


def test_a_tour_whose_every_step_is_left_out_is_no_tour(author, tmp_path):
    """Without --strict, a tour none of whose steps the page holds publishes nothing and offers no
    Tour button (which would open a tour of no steps), and the build says why."""
    content, build = author
    (content / "tour.md").write_text("## Not here {target=fig-pool1}\n\nText.\n\n## Nor here {target=fig-spaceship}\n\nText.\n",
                                     encoding="utf-8")
    result = build(tmp_path / "site")
    site = tmp_path / "site"
    assert not (site / "data" / "tour.json").exists()
    assert "tour" not in contract_of(site)["urls"]
    assert "lw-tour-open" not in parsed((site / "index.html").read_text(encoding="utf-8")).classes
    assert [str(warning).split(": ")[0] for warning in result.warnings] == [f"{content / 'tour.md'}:1", f"{content / 'tour.md'}:5"]


def test_rebuilds_are_byte_identical_and_follow_tour_edits(tmp_path, monkeypatch):
    """Two builds give the same bytes; an edit to tour.md alone is in the next build (the cache
    keeps no tour), and the contract it names is a file of the site's own, not the cache's."""
    monkeypatch.chdir(REPO)
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    quiet = dict(log=lambda message: None)
    building.build(content, tmp_path / "one", **quiet)
    building.build(content, tmp_path / "two", **quiet)
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
    tour = content / "tour.md"
    tour.write_text(tour.read_text(encoding="utf-8").replace("## Why this answer", "## Why this answer, edited"),
                    encoding="utf-8")
    building.build(content, tmp_path / "two", **quiet)
    assert "Why this answer, edited" in [step["title"] for step in tour_of(tmp_path / "two")["steps"]]
    tour.unlink()
    building.build(content, tmp_path / "two", **quiet)
    assert "tour_controls" not in contract_of(tmp_path / "two")
    assert "tour_controls" in json.loads((tmp_path / "one" / CONTRACT).read_text(encoding="utf-8"))


def test_an_unknown_front_matter_key_stops_the_build(author, tmp_path):
    """The tour's front matter is checked as the article's is: a misspelt key names its line and the known ones."""
    content, build = author
    (content / "tour.md").write_text("---\ntitel: Oops\n---\n## A step {target=fig-conv1}\n\nText.\n", encoding="utf-8")
    with pytest.raises(BuildError) as failure:
        build(tmp_path / "site")
    assert str(failure.value).startswith(f"{content / 'tour.md'}:2: unknown front matter key 'titel' (known: title)")
    assert not (tmp_path / "site").exists()
