"""axe-core (npm, the engine behind the browsers' own accessibility audits) on the real page in
Chromium: no violation in the light or the dark colour scheme, with every inspector closed and
then with one open in each kind of figure (a convolution, a pool, the flattened vector, a fully
connected layer and the output table).
"""
import pytest
from playwright.sync_api import expect

from conftest import REPO, open_page
from reader_helpers import click_cell, header, layer_of, select

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
RUN = """() => axe.run(document, { resultTypes: ['violations'] })
  .then(result => result.violations.map(v =>
    `${v.id}: ${v.help} (${v.nodes.map(node => node.target.join(' ')).join(', ')})`))"""


def violations(page):
    return page.evaluate(RUN)


def select_vector_cell(page, network_json, layer_id):
    rows, cols = layer_of(network_json, layer_id)["grid"]
    click_cell(page, layer_id, rows // 2, cols // 2, rows, cols)
    expect(header(page, layer_id)).to_contain_text(f"{layer_id}, element")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_violation_with_inspectors_closed_and_open(new_context, server, network_json, scheme):
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    page = new_context(bypass_csp=True, color_scheme=scheme).new_page()  # the CSP rightly refuses axe
    open_page(page, server)
    page.add_script_tag(path=str(AXE))
    assert violations(page) == [], "with every inspector closed"
    opening = {
        "conv2": lambda: select(page, network_json, "conv2", 3, 6, 7),
        "pool1": lambda: select(page, network_json, "pool1", 0, 4, 4),
        "flatten": lambda: select_vector_cell(page, network_json, "flatten"),
        "fc1": lambda: select_vector_cell(page, network_json, "fc1"),
        "fc2": lambda: page.locator("#fig-fc2 tbody tr").nth(2).get_by_role("button").click(),
    }
    for layer_id, open_inspector in opening.items():
        open_inspector()
        expect(page.locator(f"#fig-{layer_id} .lw-inspector")).to_be_visible()
        expect(header(page, layer_id)).to_contain_text(f"{layer_id}, ")  # its arithmetic is drawn
        assert violations(page) == [], f"with the inspector of {layer_id} open"
