"""Every Markdown-stage message names the line the author wrote, however Jinja expanded the text
before it: values of many lines and of none, {% if %} and {% for %} blocks, whitespace control.

    .venv/bin/python -m pytest tests/test_article_lines.py -q

The expected line is found by searching the article's own text for the mistake, never from the
builder's bookkeeping; the expanded text is checked against a plain Jinja render of the same body.
"""
from pathlib import Path

import jinja2
import pytest

from builder import article as prose
from builder.content import Article, Settings
from builder.errors import BuildError, Problems

FRONT = "---\ntitle: Lines\n---\n"
# Text that expressions read rather than print: {% set %} and {% filter %} blocks, the values of
# macros, callers, blocks and recursive loops, measured, cut, compared and filtered, with whitespace
# control.
CAPTURES = """\
{% set s %}abc{% endset %}{{ s|length }} {{ s|truncate(4, True, "", 0) }} {{ s == "abc" }}
{% if s == "abc" %}equal{% endif %} {% if s|first == "a" %}first{% endif %}
{% set t | upper %}
two
  lines
{%- endset %}{{ t|wordcount }} «{{ t|trim|replace("\\n", "/") }}» {{ t|list|last }}
{% filter upper|truncate(9, True, "", 0) %}
filtered text
{% endfilter %}
{% macro say(n) -%}
Said {{ n }}.
{% endmacro %}
{{ say(1) }}{{ say(2)|length }} «{{ say(3)|trim|truncate(6, True, "", 0) }}» {{ say(4) == "Said 4.\\n" }}
{% set said = say(5) %}{{ said|length }} {{ said[0] }} {{ say(6)[:4] }}{% for c in say(7) %}{{ c }}{% endfor %}
{% macro wrap() %}«{{ caller() }}» ({{ caller()|length }}){% endmacro %}
{% call wrap() %}called
text{% endcall %}
{% set u %}{% call wrap() %}in a set{% endcall %} {{ say(8) }}{% endset %}{{ u|length }} {{ u|wordcount }}
{% filter replace("\\n", "/") %}
a
{{ say(9) }}
{%- endfilter %}
{% for x in range(2) %}{% set v %}{{ x }}{{ say(x) }}{% endset %}{{ v|length }}{% endfor %}
{% block b %}
block text
{% endblock %}{{ self.b()|length }} {{ self.b()|trim }}
{% for x in [[1, [2]], 3] recursive %}{% if x is iterable %}({{ loop(x)|length }}{{ loop(x) }}){% else %}
{{ x }}{% endif %}{% endfor %}
{% macro two(a, b="B") %}{{ a }}{{ b }}{{ caller(say(1)) }}{% endmacro %}
{% call(v=say(2)) two(say(3)|length) %}«{{ v|length }}»{% endcall %}
{{ [say(4), say(5)]|join|length }} {{ (say(6) ~ "x")|length }} {{ say(7) if true }}

"""
# Before each mistake: a value of 30 lines, one of none, a loop of 3 × 2 lines, a false {% if %} of 12
# lines, a true one, whitespace control eating blank lines, a multi-line Jinja comment, and text that
# expressions read (CAPTURES).
PREAMBLE = """\
Intro.

{{ many }}

{{ nothing }}{{ nothing }}
{% for i in range(3) %}
Item {{ i }}.
{% endfor %}
{% if false %}
""" + "hidden\n" * 12 + """{% endif %}
{% if true %}
{{ many }}
{% endif %}
{%- if true -%}


   kept
{%- endif %}
{## a comment
over two lines ##}

""" + CAPTURES
CONTEXT = dict(many="\n".join(f"| row {n} |" for n in range(30)), nothing="")
TARGETS = dict(layer=["input", "conv1", "relu1"], chart=[], attribution=[""], examples=[], overview=[""],
               training=[])

# (name, the mistake written after the preamble, the text on its line, error or warning, words)
MISTAKES = [
    ("unknown layer", "![Deep](layer:conv9)\n", "conv9", "error", "unknown layer 'conv9'"),
    ("takes no name", "![All](overview:conv1)\n", "overview:conv1", "error", "takes no name"),
    ("LaTeX that cannot convert", "Maths $\\frac{1}{$ here.\n", "frac", "error", "unbalanced braces"),
    ("unknown LaTeX command", "Maths $\\notacommand{x}$ here.\n", "notacommand", "warning", "unknown LaTeX"),
    ("unclosed display maths", "Text.\n\n$$\nx + 1\n", "$$", "error", "never closed"),
    ("missing caption", "![](layer:conv1)\n", "layer:conv1", "warning", "has no caption"),
    ("duplicate figure", "![One](layer:conv1)\n\n![Two](layer:conv1)\n", "Two", "error", "already has a figure"),
    ("figure not alone", "Words ![Maps](layer:conv1) and more.\n", "Words", "error", "stand alone"),
    ("broken figure link", "![Maps](layer:conv1)\n\nAs [](#fig-conv9) shows.\n", "#fig-conv9", "error",
     "names no figure"),
]


def article_of(tmp_path, body):
    path = tmp_path / "article.md"
    path.write_text(FRONT + body, encoding="utf-8")
    return Article(path, Settings(), body, FRONT.count("\n") + 1, {})


def line_of(path, needle):
    """The 1-based line of the article file on which `needle` is written (the last, for a mistake
    written after a preamble that may hold the same words)."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    return max(n for n, text in enumerate(lines, 1) if needle in text)


def render(article):
    problems = Problems()
    rendered = prose.render(article, CONTEXT, TARGETS, lambda figure: f"<figure>{figure.id}</figure>", problems)
    return rendered, problems


@pytest.mark.parametrize("name, mistake, needle, kind, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_message_names_the_line_the_author_wrote(name, mistake, needle, kind, words, tmp_path):
    article = article_of(tmp_path, PREAMBLE + mistake)
    expected = f"{article.path}:{line_of(article.path, needle)}: "
    if kind == "error":
        with pytest.raises(BuildError) as raised:
            render(article)
        message = str(raised.value)
    else:
        _, problems = render(article)
        message = next(str(w) for w in problems if words in str(w))
    assert message.startswith(expected) and words in message, (expected, message)


def test_the_expanded_text_is_what_jinja_renders(tmp_path):
    """The line marks change nothing Markdown sees, nor any value an expression reads: the text
    equals a plain Jinja render, whitespace control and captured text included, and holds no mark."""
    body = PREAMBLE + "End {{ many }} and {{- nothing }} done.\n"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             comment_start_string="{##", comment_end_string="##}")
    text, origins = prose.expand_variables(article_of(tmp_path, body), CONTEXT)
    assert text == env.from_string(body).render(CONTEXT)
    assert not {"\ue000", "\ue001"} & set(text), "a line mark is left in the text"
    assert len(origins) == text.count("\n") + 1


def test_a_figure_written_in_a_macro_names_the_macro_line(tmp_path):
    """Text that a {% macro %} writes is reported where the macro's body is written."""
    body = PREAMBLE + "{% macro maps(name) %}\n![Maps of {{ name }}](layer:{{ name }})\n{% endmacro %}\n\n{{ maps('conv8') }}\n"
    article = article_of(tmp_path, body)
    with pytest.raises(BuildError) as raised:
        render(article)
    assert str(raised.value).startswith(f"{article.path}:{line_of(article.path, '(layer:{{ name }})')}: "
                                        "unknown layer 'conv8'")


def test_a_figure_inside_a_loop_names_the_loop_body_line(tmp_path):
    """A mistake repeated by {% for %} is reported on the line of the loop's body, not on a line of
    the expanded text."""
    body = PREAMBLE + "{% for name in ['conv1', 'conv7'] %}\n![Maps of {{ name }}](layer:{{ name }})\n\n{% endfor %}\n"
    article = article_of(tmp_path, body)
    with pytest.raises(BuildError) as raised:
        render(article)
    assert str(raised.value).startswith(f"{article.path}:{line_of(article.path, '(layer:{{ name }})')}: "
                                        "unknown layer 'conv7'")
