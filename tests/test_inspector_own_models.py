"""Every layer type's inspector, in a real Chromium, on the models of tests/models/styles.py, each
trained for a few steps and built with a figure per layer. One value of every layer is selected
where its arithmetic has something to show (padding, an activation's negative branch, a grouped
conv's last group); what the inspector prints is checked against the same numbers worked out from
the published outputs and weights (tests/oracle.py), and against itself: its numbers add up to the
value shown, to the printed precision. The page's own forward pass and its erf are checked too.

    .venv/bin/python -m pytest tests/test_inspector_own_models.py
"""
import json
import math
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from playwright.sync_api import expect

from conftest import REPO, run_cli
from oracle import (Span, activation, activation_last_step, activation_working, adaptive_rows,
                    adds_up, conv_terms, pool_window, published_outputs, published_tensors, spans,
                    total)
from reader_helpers import assert_prints, expect_box
from test_own_models import STYLES

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
LISTED = 6  # how many of a Linear value's largest positive and negative products are listed
ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh")


@pytest.fixture(scope="module", params=STYLES)
def model(request, trained_style):
    """A style's trained model built again with one figure per layer: its site, its network, and
    the first input's outputs and every layer's tensors as published."""
    trained = trained_style(request.param)
    network = json.loads((trained.site / "data" / "network.json").read_text(encoding="utf-8"))
    content, site = trained.content.parent / "figures", trained.content.parent / "figures-site"
    shutil.copytree(trained.content / "inputs", content / "inputs", dirs_exist_ok=True)
    figures = "\n\n".join(f"![Layer {layer['id']}](layer:{layer['id']})"
                          for layer in network["layers"])
    front = f"model: tests.models.styles:{trained.name}\ncheckpoint: {trained.checkpoint}"
    (content / "article.md").write_text(f"---\n{front}\n---\n\n{figures}\n", encoding="utf-8")
    process = run_cli("build", "--content", content, "--out", site, "--strict")
    assert process.returncode == 0, process.stderr
    first = json.loads((site / "data" / "inputs.json").read_text(encoding="utf-8"))[0]["id"]
    layers = {layer["id"]: layer for layer in network["layers"]}
    return SimpleNamespace(
        name=trained.name, site=site, network=network, layers=layers, input=first,
        outputs=published_outputs(site, network, first),
        weights={layer_id: published_tensors(site, layer) for layer_id, layer in layers.items()})


# --- the page ---------------------------------------------------------------------------------

def figure_of(page, layer_id):
    return page.locator(f'.lw-figure[data-layer="{layer_id}"]')  # ids have dots: no '#fig-…'


def surface_of(figure):
    maps = figure.get_attribute("data-kind") == "maps"
    return ".lw-maps > li.is-current .lw-surface" if maps else ".lw-surface"


PANEL = """figure => {
  const panel = figure.querySelector('.lw-inspector'), work = panel.querySelector('.lw-working');
  const texts = nodes => [...nodes].map(node => node.textContent.trim());
  const body = table => [...table.tBodies[0].rows];
  return {
    heading: panel.querySelector('p').textContent, value: panel.querySelector('p b').textContent,
    text: panel.innerText, numbers: work ? texts(work.querySelectorAll('data')) : [],
    result: work && work.querySelector('b').textContent,
    buttons: [...panel.querySelectorAll('button[data-channel]')]
      .map(button => [+button.dataset.channel, button.textContent]),
    receptive: panel.querySelector('.lw-receptive')?.textContent ?? null,
    tables: [...panel.querySelectorAll('table')].map(table => ({
      caption: table.caption?.textContent ?? '', rows: body(table).map(row => texts(row.cells)),
      marked: body(table).map(row => [...row.cells].map(cell => !!cell.querySelector('mark')))})),
  };
}"""


def select(page, layer, at):
    """Select value `at` of a layer with the pointer (a logit with its button); return what its
    inspector shows, once it shows that value."""
    figure = figure_of(page, layer["id"])
    if figure.get_attribute("data-kind") == "logits":
        figure.locator(".lw-logit").nth(at[0]).click()
    else:
        if figure.get_attribute("data-kind") == "maps":  # step its carousel to map k
            now, count = (int(n) for n in figure.locator(".lw-counter").inner_text().split("/"))
            for _ in range((at[0] + 1 - now) % count):
                figure.locator(".lw-next").click()
            expect(figure.locator(".lw-counter")).to_have_text(f"{at[0] + 1} / {count}")
        rows, cols = layer["shape"][1:] if len(at) == 3 else layer["grid"]
        r, c = at[1:] if len(at) == 3 else divmod(at[0], cols)
        image = figure.locator(surface_of(figure)).locator("img").first
        image.scroll_into_view_if_needed()
        box = image.bounding_box()
        image.click(position={"x": (c + 0.5) * box["width"] / cols,
                              "y": (r + 0.5) * box["height"] / rows})
    where = (f"map {at[0] + 1}, row {at[1] + 1}, column {at[2] + 1}" if len(at) == 3
             else f"element {at[0] + 1} of {layer['shape'][0]}")
    heading = re.compile(re.escape(f"{layer['id']}, {where}") + "[:,]")
    expect(figure.locator(".lw-inspector > p").first).to_contain_text(heading)
    panel = figure.evaluate(PANEL)
    assert heading.search(panel["heading"]), f"the selection moved on: {panel['heading']}"
    return panel


def expect_outline(page, model, source_id, at, height=1, width=1):
    """The figure of `source_id` shows map k with rows and columns from `at` outlined ([k, top,
    left] of maps, [i] of a vector), the box clipped to its grid as the page clips it."""
    source, figure = model.layers[source_id], figure_of(page, source_id)
    if len(at) == 3:
        (k, top, left), (rows, cols) = at, source["shape"][1:]
    else:
        (k, (top, left)), (rows, cols) = (0, divmod(at[0], source["grid"][1])), source["grid"]
    if figure.get_attribute("data-kind") == "maps":
        expect(figure.locator(".lw-counter")).to_have_text(f"{k + 1} / {source['shape'][0]}")
    first = [min(max(top, 0), rows), min(max(left, 0), cols)]
    last = [min(max(top + height, 0), rows), min(max(left + width, 0), cols)]
    expect_box(page, f'.lw-figure[data-layer="{source_id}"] {surface_of(figure)} .lw-cursor',
               [100 * first[0] / rows, 100 * first[1] / cols,
                100 * (last[0] - first[0]) / rows, 100 * (last[1] - first[1]) / cols])


def assert_grid(grid, expected, what):
    """A table's cells print `expected`: NaN (a cell left out) as 'pad', −∞ as '−∞'."""
    assert np.array(grid["rows"]).shape == expected.shape, f"{what}: {grid['rows']}"
    for (u, v), value in np.ndenumerate(expected):
        text = grid["rows"][u][v]
        if np.isnan(value) or np.isinf(value):
            assert text == ("pad" if np.isnan(value) else "\u2212\u221e"), f"{what}: {text}"
        else:
            assert_prints(text, value, f"{what}[{u}][{v}]")


def assert_numbers(texts, expected, what="the working"):
    assert len(texts) == len(expected), f"{what}: {texts}, expected {expected}"
    for n, (text, value) in enumerate(zip(texts, expected)):
        assert_prints(text, value, f"number {n + 1} of {what}")


# --- the value worth explaining, and each type's checks ---------------------------------------

def chosen(model, layer):
    """[k, r, c] or [i]: an activation's most negative input, a window over the padding, the sum
    whose terms are both largest, the last filter (and so the last group) of a conv."""
    out, kind = model.outputs[layer["id"]], layer["type"]
    inputs = [model.outputs[layer_id] for layer_id in layer["inputs"]]
    if kind in ACTIVATIONS:
        at = np.unravel_index(np.argmin(inputs[0]), out.shape)
    elif kind == "Add":
        at = np.unravel_index(np.argmax(np.abs(inputs[0]) * np.abs(inputs[1])), out.shape)
    elif kind == "Input":
        at = (0, *np.unravel_index(np.argmax(out[0]), out.shape[1:]))
    elif out.ndim == 1:
        at = (out.size * 2 // 3,)
    elif kind in ("Conv2d", "MaxPool2d", "AvgPool2d") and any(layer["settings"]["padding"]):
        at = (out.shape[0] - 1, 0, 1 if kind == "Conv2d" else 0)
    else:
        at = (out.shape[0] - 1, out.shape[1] // 2, out.shape[2] - 1)
    return [int(i) for i in at]


def check_conv(page, model, layer, at, panel):
    (k, r, c), s, weights = at, layer["settings"], model.weights[layer["id"]]
    source, bias = layer["inputs"][0], weights.get("bias")
    x = model.outputs[source]
    terms = conv_terms(x, weights["weight"], s, k, r, c)
    value = F.conv2d(torch.from_numpy(x)[None], weights["weight"], bias, s["stride"], s["padding"],
                     s["dilation"], s["groups"])[0, k, r, c].item()
    shown = panel
    if len(terms) > 1:  # one button per map of its group, with that map's sum; the last one's
        assert [channel for channel, _ in panel["buttons"]] == [term[0] for term in terms]
        assert_numbers([text for _, text in panel["buttons"]], [t[3].sum() for t in terms], "sums")
        figure = figure_of(page, layer["id"])
        figure.locator(f'button[data-channel="{terms[-1][0]}"]').click()
        expect(figure.locator(".lw-detail table")).to_have_count(3)
        shown = figure.evaluate(PANEL)
    channel, patch, kernel, products = terms[-1]
    tables = shown["tables"][-3:]
    its_sum = re.search(r"Sum of the \d+ products(?:: | ≈ )(\S+)", shown["text"])[1]
    assert tables[0]["caption"] == f"{source} map {channel + 1}"
    for grid, expected, what in zip(tables, (patch, kernel, products), ("patch", "kernel", "×")):
        assert_grid(grid, expected, what)
    adds_up(total(spans(np.ravel(tables[2]["rows"]))), its_sum, f"map {channel + 1}'s products")
    sums = [text for _, text in panel["buttons"]] or [its_sum]
    if bias is None:
        adds_up(total(spans(sums)), panel["result"], "the sum of the maps' terms")
    else:
        assert_numbers(panel["numbers"], [sum(term[3].sum() for term in terms), float(bias[k])])
        adds_up(total(spans(sums)), panel["numbers"][0], "the sum of the maps' terms")
        adds_up(total(spans(panel["numbers"])), panel["result"], "the sum plus the bias")
    assert_prints(panel["result"], value, "the convolution, against torch's conv2d")
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (weights["weight"].shape[2:], s["stride"],
                                              s["padding"], s["dilation"])
    expect_outline(page, model, source, [channel, r * sh - ph, c * sw - pw],
                   dh * (kh - 1) + 1, dw * (kw - 1) + 1)


def check_linear(page, model, layer, at, panel):
    (i,), weights = at, model.weights[layer["id"]]
    x, weight = model.outputs[layer["inputs"][0]].ravel(), weights["weight"][i].numpy()
    bias = [float(weights["bias"][i])] if "bias" in weights else []
    products = weight * x
    order = np.argsort(-products, kind="stable")
    listed = ([j for j in order if products[j] > 0][:LISTED]
              + [j for j in order if products[j] < 0][-LISTED:])
    (table,) = panel["tables"]
    rows = {int(row[0]) - 1: row[1:] for row in table["rows"]}
    assert sorted(rows) == sorted(listed), "not the largest products"
    for j in listed:
        assert_numbers(rows[j], [x[j], weight[j], products[j]], f"element {j + 1}'s row")
    rest = np.delete(products, listed)
    terms = spans(row[2] for row in rows.values())
    if rest.size:
        count, rest_text = re.search(r"The other (\d+) terms add up to (\S+)\.",
                                     panel["text"]).groups()
        assert int(count) == rest.size
        assert_prints(rest_text, rest.sum(), "the other terms")
        terms.append(Span.read(rest_text))
    assert_numbers(panel["numbers"], [products.sum(), products.sum(), *bias])  # "S; S + bias b"
    adds_up(total(terms), panel["numbers"][0], "the listed terms and the others")
    adds_up(total(spans(panel["numbers"][1:])), panel["result"], "the sum plus the bias")
    assert_prints(panel["result"], products.sum() + sum(bias), "weight × input + bias")


def check_activation(page, model, layer, at, panel):
    x = float(model.outputs[layer["inputs"][0]][tuple(at)])
    assert_numbers(panel["numbers"], activation_working(layer, x))
    assert_prints(panel["result"], activation(layer, x), f"torch's {layer['type']} of the input")
    adds_up(activation_last_step(layer, spans(panel["numbers"])), panel["result"], "the last step")
    expect_outline(page, model, layer["inputs"][0], at)


def check_max(page, model, layer, at, panel):
    (k, r, c), s, source = at, layer["settings"], layer["inputs"][0]
    cells = pool_window(s, model.outputs[source][k], r, c, maximum=True)
    (grid,) = panel["tables"]
    assert_grid(grid, cells, "window")
    assert np.argwhere(grid["marked"]).tolist() == np.argwhere(cells == cells.max()).tolist()
    marked = {grid["rows"][u][v] for u, v in np.argwhere(grid["marked"])}
    assert marked == {panel["value"]}, "the marked maximum is not the value shown"
    expect_outline(page, model, source, [k, r * s["stride"][0] - s["padding"][0],
                                         c * s["stride"][1] - s["padding"][1]], *s["kernel_size"])


def check_mean(page, model, layer, at, panel):
    (k, r, c), s, source = at, layer["settings"], layer["inputs"][0]
    x = model.outputs[source][k]
    if layer["type"] == "AdaptiveAvgPool2d":
        (top, bottom), (left, right) = (adaptive_rows(i, size, out) for i, size, out
                                        in zip((r, c), x.shape, layer["shape"][1:]))
        cells, box = x[top:bottom, left:right], [top, left, bottom - top, right - left]
        assert f"rows {top + 1}–{bottom}, columns {left + 1}–{right}" in panel["text"]
    else:
        cells = pool_window(s, x, r, c, maximum=False)  # NaN beyond the map's edge
        if s.get("count_include_pad", True):
            cells = np.nan_to_num(cells, nan=0.0)
        (sh, sw), (ph, pw) = s["stride"], s["padding"]
        box = [r * sh - ph, c * sw - pw, *s["kernel_size"]]
    (grid,) = panel["tables"]
    assert_grid(grid, cells, "window")
    count = int(re.search(r"÷ n (\d+)", panel["text"])[1])
    assert count == np.count_nonzero(~np.isnan(cells)), "n is not the number of cells that count"
    assert_numbers(panel["numbers"], [np.nansum(cells)], "the sum")
    counted = [text for text in np.ravel(grid["rows"]) if text != "pad"]
    adds_up(total(spans(counted)), panel["numbers"][0], "the window's sum")
    adds_up(Span.read(panel["numbers"][0]) / count, panel["result"], "sum ÷ n")
    expect_outline(page, model, source, [k, box[0], box[1]], box[2], box[3])


def check_batchnorm(page, model, layer, at, panel):
    k, weights, eps = at[0], model.weights[layer["id"]], layer["settings"]["eps"]
    x = float(model.outputs[layer["inputs"][0]][tuple(at)])
    mean, variance = float(weights["running_mean"][k]), float(weights["running_var"][k])
    normalised = (x - mean) / math.sqrt(variance + eps)
    scale, shift = float(weights["weight"][k]), float(weights["bias"][k])
    assert_numbers(panel["numbers"], [x, x, mean, variance, eps, scale, shift, x - mean,
                                      math.sqrt(variance + eps), scale, shift, normalised * scale, shift])
    n = spans(panel["numbers"])
    adds_up(n[1] - n[2], panel["numbers"][7], "x − mean")
    adds_up(n[7] / n[8] * n[9], panel["numbers"][11], "(x − mean) ÷ √(var + eps) × weight")
    adds_up(n[11] + n[12], panel["result"], "+ bias")
    expect_outline(page, model, layer["inputs"][0], at)


def check_dropout(page, model, layer, at, panel):
    assert "only while the network trains" in panel["text"]
    assert_numbers(panel["numbers"], [model.outputs[layer["inputs"][0]][tuple(at)]])
    assert panel["numbers"] == [panel["result"]]
    expect_outline(page, model, layer["inputs"][0], at)


def check_flatten(page, model, layer, at, panel):
    source = layer["inputs"][0]
    k, r, c = cell = [int(i) for i in np.unravel_index(at[0], model.outputs[source].shape)]
    assert f"It is {source}, map {k + 1}, row {r + 1}, column {c + 1}, moved" in panel["text"]
    assert_prints(panel["value"], model.outputs[source][k, r, c], f"{source}'s value")
    expect_outline(page, model, source, cell)


def check_add(page, model, layer, at, panel):
    terms = [float(model.outputs[layer_id][tuple(at)]) for layer_id in layer["inputs"]]
    assert_numbers(panel["numbers"], terms * 2)
    adds_up(Span.read(panel["numbers"][2]) + Span.read(panel["numbers"][3]), panel["result"], "+")
    for layer_id in layer["inputs"]:
        expect_outline(page, model, layer_id, at)  # in both terms' figures


def check_input(page, model, layer, at, panel):
    mean, std = (model.network["normalisation"][key][at[0]] for key in ("mean", "std"))  # its channel's
    assert_numbers(panel["numbers"], [model.outputs["input"][tuple(at)] * std + mean, mean, std])
    n = spans(panel["numbers"])
    adds_up((n[0] - n[1]) / n[2], panel["result"], "(brightness − mean) ÷ std")


CHECKS = {"Conv2d": check_conv, "Linear": check_linear, "MaxPool2d": check_max,
          "AvgPool2d": check_mean, "AdaptiveAvgPool2d": check_mean, "BatchNorm2d": check_batchnorm,
          "Dropout": check_dropout, "Flatten": check_flatten, "Add": check_add,
          "Input": check_input, **{kind: check_activation for kind in ACTIVATIONS}}
AXE_RUN = """panel => axe.run(panel, { resultTypes: ['violations'] })
  .then(result => result.violations.map(v => `${v.id}: ${v.help} (${v.nodes.length})`))"""


def check_value(page, model, layer, at):
    panel = select(page, layer, at)
    assert_prints(panel["value"], model.outputs[layer["id"]][tuple(at)], "the value shown")
    CHECKS[layer["type"]](page, model, layer, at, panel)
    if panel["result"] is not None:
        adds_up(Span.read(panel["result"]), panel["value"], "the arithmetic's end and the value")
    field = len(at) == 3 and layer["type"] != "Input" and layer.get("receptive")
    if field:
        (top, bottom), (left, right) = field["rows"][at[1]], field["cols"][at[2]]
        patch = f"It depends on a {bottom - top + 1} × {right - left + 1} patch of the input"
        assert (panel["receptive"] or "").startswith(patch), panel["receptive"]
    else:
        assert panel["receptive"] is None, panel["receptive"]
    violations = figure_of(page, layer["id"]).locator(".lw-inspector").evaluate(AXE_RUN)
    assert violations == [], f"axe-core, with the inspector open: {violations}"


FORWARD = """async ([input]) => {
  const maths = await import(new URL('static/forward.js', document.baseURI));
  const { Site } = await import(new URL('static/site.js', document.baseURI));
  const site = new Site(document.body.dataset.contract);
  const [network, outputs] = await Promise.all([site.network(), site.outputs(input)]);
  const weights = {};
  for (const layer of network.layers) weights[layer.id] = await site.weights(layer);
  const ran = maths.run(network.layers, outputs.input, weights);
  const error = (tensor, id) => tensor.values.reduce((worst, value, i) =>
    Math.max(worst, Math.abs(value - outputs[id].values[i])), 0);
  const alone = layer =>
    maths.forward(layer, layer.inputs.map(id => outputs[id]), weights[layer.id]);
  return network.layers.slice(1)
    .map(layer => [layer.id, error(ran[layer.id], layer.id), error(alone(layer), layer.id)]);
}"""


def test_every_layer_is_recomputed_and_explained(model, new_context, serve):
    """forward.js recomputes each layer from the outputs of the layers it reads, and the network
    from the image, as published (float32: to 1e-6); one value of each layer is explained with
    the oracle's numbers, which add up to the value shown."""
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    page = new_context(bypass_csp=True).new_page()  # so that axe-core can be added
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(serve(model.site).url + "index.html")
    expect(page.locator(".lw-surface[tabindex='0']").first).to_be_attached()  # the script runs
    for layer_id, chained, alone in page.evaluate(FORWARD, [model.input]):
        scale = max(1.0, float(np.abs(model.outputs[layer_id]).max()))
        assert alone <= 1e-5 * scale and chained <= 1e-5 * scale, (layer_id, alone, chained)
    page.add_script_tag(path=str(AXE))
    wrong = []
    for layer in model.layers.values():
        at = chosen(model, layer)
        try:
            check_value(page, model, layer, at)
        except AssertionError as error:
            wrong.append(f"{model.name}.{layer['id']} ({layer['type']}) at {at}: {error}")
    assert wrong == [], "\n".join(wrong)
    assert errors == []
    print(f"{model.name}: {sorted({layer['type'] for layer in model.layers.values()})}")


def test_erf_is_exact_far_beyond_float32(opened):
    """arithmetic.js's erf and erfc against Python's, over the range GELU meets: to 1e-12."""
    xs = [x for x in np.arange(-8, 8, 0.0137).round(3) if x] + [1e-9, -1e-9, 1.5, 2.5, -2.5]
    got = opened.evaluate("""async xs => {
        const { erf, erfc } = await import(new URL('static/arithmetic.js', document.baseURI));
        return xs.map(x => [erf(x), erfc(x)]);
    }""", [float(x) for x in xs])
    worst = max(max(abs(e / math.erf(x) - 1), abs(c / math.erfc(x) - 1))
                for x, (e, c) in zip(xs, got))
    print(f"\nerf, erfc: largest relative error {worst:.2g}")
    assert worst < 1e-12
