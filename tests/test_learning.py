"""Watch it learn (static/training.js), in Chromium, against PyTorch: at every moment training kept,
for every article input, the page's numbers are those of the network with that moment's weights
(read here from the committed snapshots file, independently of the site); the slider says which
moment and its accuracy, is keyboard operable and kept in the link; each moment costs one file of
at most 1 MB, fetched when first reached; the trained network stays the default; axe finds nothing.

    .venv/bin/python -m pytest tests/test_learning.py
"""
import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from builder import contract as build_contract
from conftest import CHECKPOINT, CONTENT, open_page
from reader_helpers import shown as shown_number
from model import data, snapshots_file
from model.cnn import FashionCNN
from test_axe import AXE, violations

# Every layer of one input at one moment, with the page's own modules: {layer id: [values]}.
AT_MOMENT = """async ([input, step]) => {
  const { Site } = await import('./static/site.js');
  const { decodeTensors } = await import('./static/data.js');
  const { run } = await import('./static/forward.js');
  const site = new Site(document.body.dataset.contract);
  const [contract, network, outputs] = await Promise.all([site.contract(), site.network(), site.outputs(input)]);
  const url = contract.urls.snapshot.replace('{step}', step);
  const buffer = await fetch(url).then(response => response.arrayBuffer());
  const weights = {};
  let offset = 0;
  for (const layer of network.layers) {
    const size = (layer.tensors ?? []).reduce((n, t) => n + t.shape.reduce((p, d) => p * d, 1), 0);
    weights[layer.id] = size ? decodeTensors(buffer.slice(offset, offset + 4 * size), layer.tensors) : {};
    offset += 4 * size;
  }
  const ran = run(network.layers, outputs[network.layers[0].id], weights);
  return Object.fromEntries(Object.entries(ran).map(([id, tensor]) => [id, Array.from(tensor.values)]));
}"""


@pytest.fixture(scope="module")
def moments():
    """The committed snapshots, read with NumPy from model/cnn.snapshots.npz."""
    path = snapshots_file.path_for(CHECKPOINT)
    assert path.is_file(), "the committed checkpoint has no training snapshots"
    return snapshots_file.read(path).snapshots


def network_at(moment):
    net = FashionCNN()
    net.load_state_dict({name: torch.from_numpy(np.asarray(array)) for name, array in moment.state.items()})
    return net.eval()


def torch_layers(net, pixels, metrics):
    norm = metrics["normalisation"]
    x = data.as_input(torch.as_tensor(pixels[None].copy()), norm["mean"], norm["std"])
    out = {"input": x[0].numpy().ravel()}
    with torch.no_grad():
        for name, child in net.named_children():
            x = child(x)
            out[name] = x[0].numpy().ravel()
    return out


def pixels_of(summary):
    return np.array(Image.open(CONTENT / "inputs" / f"{summary['id']}.png").convert("L"))


def test_every_moment_and_input_equals_pytorch(opened, moments, summaries, committed_metrics):
    """Every layer, every moment, every article input: within 1e-5 (absolute or relative)."""
    for moment in moments:
        net = network_at(moment)
        for summary in summaries:
            page = opened.evaluate(AT_MOMENT, [summary["id"], moment.step])
            for layer, values in torch_layers(net, pixels_of(summary), committed_metrics).items():
                error = np.abs(np.array(page[layer]) - values) / np.maximum(1.0, np.abs(values))
                assert error.max() <= 1e-5, (moment.step, summary["id"], layer, error.max())


def test_the_final_moment_is_the_committed_checkpoint(moments):
    final = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    for name, tensor in final.items():
        assert np.array_equal(np.asarray(moments[-1].state[name]), tensor.numpy()), name


def slider_of(page):
    page.locator(".lw-learning-open").click()
    slider = page.locator(".lw-training-slider")
    expect(slider).to_be_focused()
    return slider


def test_the_slider_walks_every_moment_for_every_input(page, server, moments, summaries, committed_metrics, site,
                                                       site_url):
    """From the keyboard, moment by moment: the words, the link, the output table and the filters
    follow; each moment fetches one file of at most 1 MB, once."""
    record = json.loads((site / site_url("training")).read_text(encoding="utf-8"))
    fetched = []
    page.on("requestfinished", lambda r: "/data/snapshots/" in r.url and fetched.append(r.sizes()["responseBodySize"]))
    open_page(page, server)
    slider = slider_of(page)
    expect(page.locator(".lw-training-said")).to_contain_text("The trained network.")
    slider.press("Home")
    for k, moment in enumerate(moments):
        if k:
            slider.press("ArrowRight")
        last = k == len(moments) - 1
        accuracy = build_contract.percent(record["snapshots"][k]["test_accuracy"])
        expect(page.locator(".lw-training-said")).to_contain_text(f"test accuracy {accuracy}")
        if last:
            expect(page).not_to_have_url(re.compile(r"at="))  # the end of the slider is the trained network
        else:
            expect(page).to_have_url(re.compile(rf"at={moment.step}\b"))
        net = network_at(moment)
        for summary in summaries[:: 1 if k in (0, len(moments) // 2) else 5]:  # all inputs at two moments
            page.locator(f'.lw-picker input[value="{summary["id"]}"]').check()
            logits = torch_layers(net, pixels_of(summary), committed_metrics)["fc2"]
            expect(page.locator(".lw-status")).to_contain_text(  # the table now shows this input then
                f"Showing {summary['label_name']}" + (f" ({summary['source']})" if summary["label_name"] else ""))
            expect(page.locator(".lw-status")).to_contain_text(
                "the weights of training step" if not last else "Showing")
            shown = page.locator("#fig-fc2 tbody .lw-logit").all_inner_texts()
            for text, value in zip(shown, logits):
                # PyTorch sums in float32, the page in float64: they may differ by 1e-5 (the forward
                # test's tolerance), which can move the third digit of a logit near zero.
                unit = 10 ** (math.floor(math.log10(abs(value))) - 2) if value else 1e-12
                assert abs(shown_number(text) - value) <= 0.5 * unit + 1e-5, (moment.step, summary["id"], text, value)
        slider.focus()
    assert len(fetched) == len(moments) - 1 and max(fetched) <= 1_000_000, fetched
    print(f"\nsnapshots fetched moving across all moments: {sum(fetched):,} B in {len(fetched)} files")


def test_a_link_opens_a_moment_and_its_filters(page, server, moments):
    moment = moments[len(moments) // 2]
    open_page(page, server, f"#input=2&at={moment.step}")
    expect(page.locator(".lw-training-slider")).to_have_value(str(len(moments) // 2))
    expect(page.locator(".lw-status")).to_contain_text(f"weights of training step {moment.step}")
    kernel = page.locator("#fig-conv1 .lw-maps > li.is-current .lw-kernel canvas")
    expect(kernel).to_be_visible()
    expect(kernel).to_have_attribute("aria-label", f"Filter 1 of conv1 at step {moment.step}")


def test_a_moment_left_while_its_weights_load_paints_no_filter(page, server):
    """Step 30's weights are held back; the reader moves the slider to the trained network; once the
    weights arrive and the page has run everything waiting on them, no filter of step 30 is shown."""
    held = []
    page.route("**/data/snapshots/30.f32", lambda route: held.append(route))
    open_page(page, server, "#at=30")
    slider = page.locator(".lw-training-slider")
    expect(slider).to_be_visible()
    slider.focus()
    slider.press("End")
    expect(page.locator(".lw-status")).not_to_contain_text("training step")
    assert len(held) == 1, "step 30's weights were requested once, and are held"
    held[0].continue_()
    # The same request's promise (fetchOnce shares it), then a task boundary: every continuation
    # waiting on these weights has run by then.
    page.evaluate("""async () => {
      const { fetchOnce, urlOf } = await import('./static/site.js');
      const contract = await fetchOnce(document.body.dataset.contract);
      await fetchOnce(urlOf(contract, 'snapshot', { step: 30 }), 'arrayBuffer');
      await new Promise(resolve => setTimeout(resolve));
    }""")
    expect(page.locator("#fig-conv1 .lw-kernel.is-painted")).to_have_count(0)


def test_axe_finds_nothing_with_the_slider_in_use(new_context, server, moments):
    page = new_context(bypass_csp=True).new_page()
    open_page(page, server)
    slider = slider_of(page)
    slider.press("Home")
    expect(page).to_have_url(re.compile(r"at=0\b"))
    page.add_script_tag(path=str(AXE))
    assert violations(page) == []
