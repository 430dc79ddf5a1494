"""The network's answer on the page, in a real Chromium: fc2's probabilities against the softmax of the
logits (tests/oracle.py), the predicted and true classes, the misclassified inputs, the status line
and the live values that follow the chosen input.

    .venv/bin/python -m pytest tests/test_outputs.py
"""
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from oracle import softmax
from reader_helpers import choose, current_surface, inspector, predicted, printed, said, select, wrong_inputs

_METERS_ARE = """([wanted, tolerance]) => {
  const shown = [...document.querySelectorAll('#fig-fc2 tbody tr meter')].map(m => m.value);
  return shown.length === wanted.length && shown.every((v, i) => Math.abs(v - wanted[i]) <= tolerance);
}"""


def expect_meters(page, wanted, tolerance=2e-4):
    """Wait until fc2's meters show `wanted`, one per class, each within `tolerance`."""
    try:
        page.wait_for_function(_METERS_ARE, arg=[list(wanted), tolerance])
    except PlaywrightTimeout:
        shown = page.locator("#fig-fc2 tbody tr meter").evaluate_all("meters => meters.map(m => m.value)")
        raise AssertionError(f"fc2's meters show {shown}, never the softmax {list(wanted)}") from None


@pytest.mark.parametrize("which", ["first", "misclassified"])
def test_output_shows_softmax_probabilities_with_predicted_and_true_marked(opened, input_records, site_url, which):
    """fc2's table has one labelled meter per class at softmax(logits), the predicted and the true class marked."""
    record = input_records[0]
    if which == "misclassified":
        if not wrong_inputs(input_records):
            pytest.skip("no misclassified input in the content (see test_content_offers_a_misclassified_input)")
        record = wrong_inputs(input_records)[0]
        choose(opened, record, site_url)
    probabilities = softmax(record["logits"])
    rows = opened.locator("#fig-fc2 tbody tr")
    expect(rows).to_have_count(len(record["classes"]))
    expect(rows.nth(predicted(record))).to_have_class(re.compile(r"\bis-predicted\b"))
    expect(opened.locator("#fig-fc2 tr.is-predicted")).to_have_count(1)
    expect(rows.nth(record["label"])).to_have_class(re.compile(r"\bis-true\b"))
    expect(opened.locator("#fig-fc2 tr.is-true")).to_have_count(1)
    expect_meters(opened, probabilities)
    for c, (row, name) in enumerate(zip(rows.all(), record["classes"])):
        expect(row.locator("th")).to_have_text(name)
        percent = float(row.locator(".lw-value").nth(1).inner_text().rstrip("%"))
        assert percent == pytest.approx(100 * probabilities[c], abs=0.051)
    marks = rows.nth(predicted(record)).locator("th").evaluate("th => getComputedStyle(th, '::after').content")
    assert "predicted" in marks
    true_mark = rows.nth(record["label"]).locator("th").evaluate("th => getComputedStyle(th, '::before').content")
    assert "\u2713" in true_mark


def test_softmax_formula_is_mathml(opened):
    """The softmax formula is rendered MathML: a fraction of e to the logit over a sum of exponentials."""
    formula = opened.locator("math[display=block]").filter(
        has=opened.locator("mfrac > :first-child msup > mi:text-is('e')")).filter(has_text="\u2211")
    expect(formula).to_have_count(1)
    expect(formula).to_be_visible()
    assert formula.bounding_box()["height"] > 20
    assert "\\frac" not in opened.locator("article").inner_text()


def test_picker_marks_exactly_the_misclassified_inputs(opened, input_records):
    """The picker's 'misclassified' marks are the inputs whose largest logit is not their label."""
    wrong = {r["id"] for r in wrong_inputs(input_records)}
    marked = opened.locator(".lw-choice.is-wrong")
    expect(marked).to_have_count(len(wrong))
    assert {label.locator("input").get_attribute("value") for label in marked.all()} == wrong
    expect(opened.get_by_role("radio", name=re.compile("misclassified"))).to_have_count(len(wrong))


def test_content_offers_a_misclassified_input(input_records):
    """The article promises a misclassified image in the picker; the content must provide one."""
    assert wrong_inputs(input_records), \
        "no input is misclassified by the committed model: add one to content/article.md's inputs"


def test_status_region_announces_the_chosen_input(opened, input_records):
    """Choosing an input writes its label and the network's prediction into the role=status region."""
    record = wrong_inputs(input_records)[0] if wrong_inputs(input_records) else input_records[-1]
    opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    status = opened.locator("[role=status]")
    expect(status).to_contain_text(record["label_name"])
    expect(status).to_contain_text(f"predicted {record['classes'][predicted(record)]}")
    confidence = said(status, r"([\d.]+)%").group(1)
    assert float(confidence) == pytest.approx(100 * softmax(record["logits"]).max(), abs=0.051)


def test_live_values_follow_the_input_and_sit_in_their_sentence(opened, input_records):
    """The article's live values name the chosen input's prediction and label, with no space before punctuation."""
    record = wrong_inputs(input_records)[0] if wrong_inputs(input_records) else input_records[-1]
    opened.locator(f'.lw-picker input[value="{record["id"]}"]').check()
    expect(opened.locator('[data-live="predicted_name"]').first).to_have_text(record["classes"][predicted(record)])
    expect(opened.locator('[data-live="label_name"]').first).to_have_text(record["label_name"])
    stray = opened.evaluate("""() => [...document.querySelectorAll('.lw-live')]
        .map(e => e.textContent + (e.nextSibling ? e.nextSibling.textContent.slice(0, 3) : ''))
        .filter(text => /\\s[.,;:!?]/.test(text))""")
    assert stray == [], f"a space before punctuation after a live value: {stray}"


def test_choosing_an_input_after_inspecting_a_value_updates_every_figure(opened, network_json, input_records):
    """With an inspector open (and its small input image inside the figure), picking another input
    still updates the outputs, the alt texts and the URL, without a script error."""
    select(opened, network_json, "conv1", 0, 10, 10)
    expect(inspector(opened, "conv1")).to_be_visible()
    chosen = input_records[-1]
    opened.locator(f'.lw-picker input[value="{chosen["id"]}"]').check()
    expect(opened.locator("#fig-fc2 tbody tr.is-predicted th")).to_contain_text(
        chosen["classes"][predicted(chosen)])
    expect(inspector(opened, "conv1")).to_be_hidden()
    low, high = chosen["exact"]["conv1"][0].min(), chosen["exact"]["conv1"][0].max()
    expect(current_surface(opened, "conv1").locator("img")).to_have_attribute(
        "alt", f"conv1, map 1 of {len(chosen['exact']['conv1'])}, values from {printed(low)} to {printed(high)}")
    expect(opened).to_have_url(re.compile(rf"[#&]input={re.escape(chosen['id'])}(&|$)"))
    assert opened.errors == []
