"""Attributions (builder/attributions.py, static/attribution.js) against PyTorch's autograd, run here
on the committed model: every article input and class, the published gradients and sums; the
network's exact affinity near each input; the figure in Chromium (the sum, a pixel, the last layer's
units, why one class and not another, another class chosen in the output table); and a model that
is not piecewise linear, whose figure says it shows an approximation.

    .venv/bin/python -m pytest tests/test_attributions.py
"""
import json
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from playwright.sync_api import expect

from builder import contract as build_contract, views
from conftest import CHECKPOINT, CONTENT, run_cli, snapshot_state
from model import data
from model.cnn import FashionCNN
from test_axe import AXE, violations


@pytest.fixture(scope="module")
def model():
    net = FashionCNN()
    net.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    return net.eval()


def normalised_input(summary, metrics):
    pixels = np.array(Image.open(CONTENT / "inputs" / f"{summary['id']}.png").convert("L"))
    norm = metrics["normalisation"]
    return data.as_input(torch.as_tensor(pixels[None]), norm["mean"], norm["std"])


def autograd(model, x):
    """(classes, H·W) gradients of each logit by the normalised pixels, and the logits."""
    x = x.clone().requires_grad_(True)
    logits = model(x)[0]
    rows = [torch.autograd.grad(logits[c], x, retain_graph=True)[0].ravel() for c in range(len(logits))]
    return torch.stack(rows).numpy(), logits.detach().numpy()


def published(site, site_url, summary):
    record = json.loads((site / site_url("attributions")).read_text(encoding="utf-8"))
    gradients = np.frombuffer((site / site_url("attribution", input=summary["id"])).read_bytes(), dtype="<f4")
    return record, gradients.reshape(len(summary["classes"]), -1)


def test_every_inputs_gradients_and_sums_equal_autograds(model, site, site_url, summaries, committed_metrics):
    """For every article input and class: the gradient (to 1e-5, absolute or relative) and
    Σ contributions + constant = logit (to 1e-4)."""
    for summary in summaries:
        record, gradients = published(site, site_url, summary)
        assert record["exact"] is True and record["not_linear"] == []
        x = normalised_input(summary, committed_metrics)
        expected, logits = autograd(model, x)
        error = np.abs(gradients - expected) / np.maximum(1.0, np.abs(expected))
        assert error.max() <= 1e-5, f"{summary['id']}: gradient off by {error.max():.2e}"
        contributions = x.numpy().ravel()[None] * expected
        for c, entry in enumerate(record["inputs"][summary["id"]]):
            assert abs(entry["logit"] - logits[c]) <= 1e-5
            assert abs(contributions[c].sum() + entry["constant"] - logits[c]) <= 1e-4, (summary["id"], c)


def frozen(model, x):
    """The linear piece the network is on at x, as a function: every ReLU keeps x's on/off pattern
    and every max pool x's winner (the first, where values tie, as PyTorch picks), so what is
    left is affine in the image, computed in float64."""
    net = FashionCNN().double()
    net.load_state_dict(model.state_dict())
    gates, h = [], x.double()
    for name, layer in net.named_children():
        if isinstance(layer, torch.nn.ReLU):
            gates.append((h > 0).double())
        if isinstance(layer, torch.nn.MaxPool2d):
            gates.append(F.max_pool2d(h, layer.kernel_size, return_indices=True)[1])
        h = layer(h)

    def piece(z):
        opened = iter(gates)
        for name, layer in net.named_children():
            if isinstance(layer, torch.nn.ReLU):
                z = z * next(opened)
            elif isinstance(layer, torch.nn.MaxPool2d):
                indices = next(opened)
                z = z.flatten(2).gather(2, indices.flatten(2)).view(indices.shape)
            else:
                z = layer(z)
        return z[0]
    return piece


def test_each_logit_is_its_pieces_sum_of_contributions_plus_what_the_biases_pass_along(
        model, site, site_url, summaries, committed_metrics):
    """The piece at x gives x's logits, its gradient is the published one, and its value at a zero
    image (all the biases, along x's open paths) is the published constant."""
    for summary in summaries:
        record, gradients = published(site, site_url, summary)
        x = normalised_input(summary, committed_metrics)
        piece = frozen(model, x)
        with torch.no_grad():
            at_x, at_zero = piece(x.double()).numpy(), piece(torch.zeros_like(x, dtype=torch.float64)).numpy()
        entries = record["inputs"][summary["id"]]
        assert np.allclose(at_x, [e["logit"] for e in entries], atol=1e-4)
        assert np.allclose(at_zero, [e["constant"] for e in entries], atol=1e-4), summary["id"]
        z = x.double().requires_grad_(True)
        for c in range(len(entries)):
            g = torch.autograd.grad(piece(z)[c], z)[0].numpy().ravel()
            assert np.allclose(g, gradients[c], rtol=1e-5, atol=1e-6), (summary["id"], c)


# The figure's arithmetic (static/contributions.js) on one input's published data, for every class:
# the units table, the other class, the sum line's and the "why not" line's numbers.
PAGES_ARITHMETIC = """async id => {
  const base = document.baseURI;
  const sums = await import(new URL('static/contributions.js', base));
  const { float32s } = await import(new URL('static/data.js', base));
  const { Site, fetchOnce, urlOf } = await import(new URL('static/site.js', base));
  const site = new Site(document.body.dataset.contract);
  const [network, outputs, summary, contract] = await Promise.all([
    site.network(), site.outputs(id), site.summary(id), site.contract()]);
  const last = network.layers.at(-1), image = outputs[network.layers[0].id].values;
  const { weight, bias } = await site.weights(last);
  const numbers = float32s(await fetchOnce(urlOf(contract, 'attribution', { input: id }), 'arrayBuffer'));
  const scores = summary[contract.output.kind], size = image.length;
  const contributions = scores.map((_, c) => sums.contributionsOf(image, numbers.subarray(c * size, (c + 1) * size)));
  const plain = ({ differences, ...numbers }) => numbers;
  return scores.map((score, c) => ({
    units: sums.unitTerms(weight.slice(c).values, outputs[last.inputs[0]].values, bias.at(c)),
    other: sums.otherClass(summary, scores, c),
    explained: sums.explained(contributions[c], score),
    why: scores.map((otherScore, d) => plain(sums.whyNot(contributions[c], contributions[d], score, otherScore))),
  }));
}"""


def test_the_pages_arithmetic_is_its_python_twins(page, server, site, site_url, summaries, network_json):
    """static/contributions.js, fed the published data in Chromium, for every input and class: the
    units table is builder.views.unit_terms's (the same units in the same order, the same numbers),
    the other class is views.other_class's, and the sums are the published ones the page's HTML
    writes (data/attributions.json: sum and constant; for "why not", their differences)."""
    page.goto(server + "index.html")
    record = json.loads((site / site_url("attributions")).read_text(encoding="utf-8"))
    last = network_json["layers"][-1]
    tensors = np.frombuffer((site / site_url("weights", layer=last["id"])).read_bytes(), dtype="<f4").astype(np.float64)
    sizes = [int(np.prod(layer["shape"])) for layer in network_json["layers"]]
    start = dict(zip((layer["id"] for layer in network_json["layers"]), np.cumsum([0] + sizes)))
    before = next(layer for layer in network_json["layers"] if layer["id"] == last["inputs"][0])
    classes, units = last["shape"][-1], int(np.prod(before["shape"]))
    weights, biases = tensors[:classes * units].reshape(classes, units), tensors[classes * units:]
    for summary in summaries:
        found = page.evaluate(PAGES_ARITHMETIC, summary["id"])
        exact = np.frombuffer((site / site_url("exact", input=summary["id"])).read_bytes(), dtype="<f4")
        activations = exact[start[before["id"]]:start[before["id"]] + units].astype(np.float64)
        entries, scores = record["inputs"][summary["id"]], summary["logits"]
        for c, page_says in enumerate(found):
            where = (summary["id"], c)
            twin = views.unit_terms(weights[c], activations, float(biases[c]))
            assert [row["unit"] for row in page_says["units"]["shown"]] == [row["unit"] for row in twin["shown"]], where
            assert page_says["units"]["rest"] == twin["rest"], where
            for ours, theirs in zip(page_says["units"]["shown"], twin["shown"]):
                assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12), where
            for ours, theirs in [("restSum", "rest_sum"), ("bias", "bias"), ("total", "total")]:
                assert page_says["units"][ours] == pytest.approx(twin[theirs], rel=1e-9, abs=1e-9), where
            assert page_says["other"] == views.other_class(summary, scores, c), where
            assert page_says["explained"]["sum"] == pytest.approx(entries[c]["sum"], abs=1e-4), where
            assert page_says["explained"]["constant"] == pytest.approx(entries[c]["constant"], abs=1e-4), where
            for d, why in enumerate(page_says["why"]):
                assert why["sum"] == pytest.approx(entries[c]["sum"] - entries[d]["sum"], abs=1e-4), (*where, d)
                assert why["constant"] == pytest.approx(entries[c]["constant"] - entries[d]["constant"], abs=1e-4)
                assert why["difference"] == pytest.approx(entries[c]["logit"] - entries[d]["logit"], abs=1e-5)


def test_ties_in_max_pooling_are_counted(model, summaries, committed_metrics):
    """Where a pool's window holds two equal largest values the network has a corner, not a plane:
    the page's text must say so. Count them, to report."""
    ties = 0
    for summary in summaries:
        h = normalised_input(summary, committed_metrics)
        for layer in model.children():
            if isinstance(layer, torch.nn.MaxPool2d):
                windows = F.unfold(h[0][:, None], layer.kernel_size, stride=layer.stride)
                top = windows.max(1, keepdim=True).values
                ties += int((((windows == top).sum(1) > 1) & (top[:, 0] > 0)).sum())
            h = layer(h)
    print(f"\nmax-pool windows with a tie among positive values, over {len(summaries)} inputs: {ties}")
    assert ties > 0  # if none were left, the page's sentence on ties would be wrong: revisit it


def wrong_input(summaries):
    return next(s for s in summaries if s["label"] is not None and s["label"] != s["predicted"])


def sum_text(key, names, numbers, **fields):
    """The contract's text `key` with the numbers of its sum (`names`: their fields, terms then the
    total) printed as the page prints a sum, with the decimals that make them add up."""
    sums = build_contract.printed_sums(numbers)
    return build_contract.text(key, **{name: sums.number(value) for name, value in zip(names, numbers)},
                               equals=sums.equals,
                               **fields)


def attribution_figure(page, server, summary):
    page.goto(f"{server}index.html#input={summary['id']}")
    figure = page.locator("#fig-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-surface canvas").first).to_be_attached()  # the script has taken over
    return figure


def test_the_figure_writes_out_the_sum_and_why_not_the_true_class(page, server, model, site, site_url,
                                                                   summaries, committed_metrics):
    summary = wrong_input(summaries)
    figure = attribution_figure(page, server, summary)
    record, gradients = published(site, site_url, summary)
    x = normalised_input(summary, committed_metrics).numpy().ravel().astype(np.float64)
    c, t, n = summary["predicted"], summary["label"], build_contract.number
    names, logits = summary["classes"], summary["logits"]
    total = float((x * gradients[c]).sum())
    expect(figure.locator(".lw-attr-sum")).to_have_text(sum_text(
        "attribution_sum", ("sum", "constant", "logit"), [total, logits[c] - total, logits[c]], what="logit",
        cls=names[c]))
    difference = float((x * (gradients[c] - gradients[t])).sum())
    expect(figure.locator(".lw-attr-why-sum")).to_have_text(sum_text(
        "attribution_why", ("sum", "constant", "difference"),
        [difference, logits[c] - logits[t] - difference, logits[c] - logits[t]], what="logit", a=names[c], b=names[t]))
    map_ = figure.locator(".lw-attr-surface canvas").first
    map_.focus()
    map_.press("ArrowDown")
    map_.press("ArrowRight")  # row 2, column 2
    i = 1 * 28 + 1
    expect(figure.locator(".lw-attr-pixel")).to_have_text(build_contract.text(
        "attribution_pixel", row=2, col=2, value=n(x[i]), gradient=n(gradients[c][i]),
        product=n(x[i] * gradients[c][i])))


def test_the_last_layers_units_add_up_to_the_logit(page, server, site, site_url, summaries, network_json):
    summary = wrong_input(summaries)
    figure = attribution_figure(page, server, summary)
    exact = np.frombuffer((site / site_url("exact", input=summary["id"])).read_bytes(), dtype="<f4")
    sizes = [int(np.prod(layer["shape"])) for layer in network_json["layers"]]
    starts = dict(zip((layer["id"] for layer in network_json["layers"]), np.cumsum([0] + sizes)))
    last = network_json["layers"][-1]
    before = last["inputs"][0]
    activations = exact[starts[before]:starts[before] + sizes[list(starts).index(before)]].astype(np.float64)
    tensors = np.frombuffer((site / site_url("weights", layer=last["id"])).read_bytes(), dtype="<f4")
    weight = tensors[:10 * activations.size].reshape(10, -1).astype(np.float64)
    c = summary["predicted"]
    terms = weight[c] * activations
    order = np.argsort(-terms)
    rows = figure.locator(".lw-attr-units tbody tr")
    expect(rows.first.locator("th")).to_have_text(str(order[0] + 1))  # the largest term first
    positive = int((terms[order[:5]] > 0).sum())
    shown = [*order[:positive], *order[::-1][:int((terms[order[::-1][:5]] < 0).sum())]]
    bias = float(tensors[weight.size + c]) if tensors.size > weight.size else 0.0
    rest = [j for j in range(terms.size) if j not in shown]
    sums = build_contract.printed_sums([*terms[shown], terms[rest].sum(), bias, terms.sum() + bias])
    n = sums.number
    expect(figure.locator(".lw-attr-units tfoot td")).to_have_text(sums.about + n(terms.sum() + bias))
    expect(rows.first.locator("td").last).to_have_text(n(terms[order[0]]))
    expect(rows.nth(positive).locator("td").last).to_have_text(n(terms[order[-1]]))


def test_choosing_a_logit_explains_that_class(page, server, site, site_url, summaries, committed_metrics):
    summary = summaries[0]
    figure = attribution_figure(page, server, summary)
    other = (summary["predicted"] + 3) % len(summary["classes"])
    page.locator("#fig-fc2 tbody tr").nth(other).get_by_role("button").click()
    expect(figure.locator(".lw-attr-sum")).to_contain_text(f"logit of {summary['classes'][other]} (")
    _, gradients = published(site, site_url, summary)
    x = normalised_input(summary, committed_metrics).numpy().ravel().astype(np.float64)
    total, logit = float((x * gradients[other]).sum()), summary["logits"][other]
    n = build_contract.printed_sums([total, logit - total, logit]).number
    expect(figure.locator(".lw-attr-sum")).to_contain_text(f"Σ contributions ({n(total)})")


def test_a_logit_chosen_while_the_figures_data_loads_is_the_one_explained(page, server, summaries):
    """data/attributions.json is held back until the reader has chosen another class's logit; once
    it arrives, the figure explains that class, not the prediction it started with."""
    summary = summaries[0]
    held = []
    page.route("**/data/attributions.json", lambda route: held.append(route))
    figure = attribution_figure(page, server, summary)
    other = (summary["predicted"] + 3) % len(summary["classes"])
    page.locator("#fig-fc2 tbody tr").nth(other).get_by_role("button").click()
    expect(page.locator("#fig-fc2 .lw-inspector p").first).to_contain_text(f"fc2, element {other + 1} of")
    assert len(held) == 1, "the figure's data was requested once, and is held"
    held[0].continue_()
    expect(figure.locator(".lw-attr-sum")).to_contain_text(f"logit of {summary['classes'][other]} (")


def test_without_javascript_the_figure_reads_as_built(browser, server, summaries, site, site_url):
    page = browser.new_context(java_script_enabled=False).new_page()
    page.goto(server + "index.html")
    figure = page.locator("#fig-attribution")
    summary = summaries[0]
    record, _ = published(site, site_url, summary)
    entry = record["inputs"][summary["id"]][summary["predicted"]]
    expect(figure.locator(".lw-attr-sum")).to_have_text(sum_text(
        "attribution_sum", ("sum", "constant", "logit"), [entry["sum"], entry["constant"], entry["logit"]],
        what="logit", cls=summary["classes"][summary["predicted"]]))
    expect(figure.locator(f'img[src="{site_url("attribution_map", input=summary["id"])}"]')).to_have_count(1)
    page.context.close()


def test_axe_finds_nothing_in_the_figure(new_context, server, summaries):
    page = new_context(bypass_csp=True).new_page()
    attribution_figure(page, server, wrong_input(summaries))
    page.add_script_tag(path=str(AXE))
    assert violations(page) == []


def test_a_network_that_is_not_piecewise_linear_gets_labelled_integrated_gradients(trained_style, tmp_path):
    """Strided uses GELU and SiLU: its attribution says so, and its sums leave a gap it reports."""
    built = trained_style("Strided")
    content = tmp_path / "content"
    shutil.copytree(built.content, content)  # the session's copy stays as other tests know it
    article = content / "article.md"
    article.write_text(article.read_text(encoding="utf-8") + "\n![Attribution](attribution:)\n", encoding="utf-8")
    out = tmp_path / "site"
    process = run_cli("build", "--content", content, "--out", out)
    assert process.returncode == 0, process.stderr
    record = json.loads((out / "data/attributions.json").read_text(encoding="utf-8"))
    assert record["exact"] is False and {"GELU", "SiLU"} <= set(record["not_linear"])
    for entries in record["inputs"].values():
        for entry in entries:
            assert abs(entry["sum"] + entry["baseline_logit"] + entry["gap"] - entry["logit"]) <= 1e-4
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "integrated gradients" in html and "approximation" in html and "gap" in html


def test_a_drawn_inputs_attribution_is_computed_in_the_page_as_autograd_does(opened, model, committed_metrics):
    """The reader's own input has no published gradients: backward.js computes them, and the
    figure's sum is autograd's for the drawn pixels."""
    from test_own_input import drawn_pixels, pad_of, settled, stroke
    pad = pad_of(opened)
    stroke(opened, pad, [(0.3, 0.2), (0.7, 0.8)])
    stroke(opened, pad, [(0.7, 0.2), (0.3, 0.8)])
    settled(opened)
    pixels = drawn_pixels(opened)
    norm = committed_metrics["normalisation"]
    expect_autograds_sum(opened, model, data.as_input(torch.as_tensor(pixels[None].copy()), norm["mean"], norm["std"]))


def expect_autograds_sum(page, model, x):
    """The attribution figure's sum line for the predicted class is autograd's for input `x`."""
    gradients, logits = autograd(model, x)
    c = int(logits.argmax())
    total = float((x.numpy().ravel().astype(np.float64) * gradients[c]).sum())
    figure = page.locator("#fig-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-sum")).to_have_text(sum_text(
        "attribution_sum", ("sum", "constant", "logit"), [total, logits[c] - total, logits[c]], what="logit",
        cls=FashionCNN.classes[c]))


def test_at_a_moment_of_training_the_attribution_is_that_moments_network(page, server, summaries, committed_metrics):
    """With the slider at step 300, the sum is autograd's for the network with step 300's weights
    (read from model/cnn.snapshots.npz), computed in the page by the same backward pass."""
    net = FashionCNN()
    net.load_state_dict(snapshot_state(300))
    summary = summaries[0]
    page.goto(f"{server}index.html#input={summary['id']}&at=300")
    expect(page.locator(".lw-status")).to_contain_text("training step 300")
    expect_autograds_sum(page, net.eval(), normalised_input(summary, committed_metrics))
