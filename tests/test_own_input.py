"""The reader's own input, in a real Chromium: the page's forward pass against PyTorch's, layer by
layer; drawing with the mouse and from the keyboard, with every figure, the output table and the
inspector following; links that reopen a drawing or a test image; uploads and drops converted as
the build converts, sent nowhere; the confusion matrix's cells and their test images; and the page
without JavaScript, and axe-core with the pad open.

    .venv/bin/python -m pytest tests/test_own_input.py
"""
import base64
import json
import io
import re
import zlib
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from builder import bench, contract as build_contract
from builder.inputs import convert
from conftest import CHECKPOINT, CONTENT, open_page
from model import data
from model.cnn import FashionCNN
from oracle import softmax
from test_axe import AXE, violations
from test_convert import encoded, garment

# The page's forward pass, with its own modules, for each of several inputs' pixels:
# {layer id: [values]} per input.
FORWARD = """async pixelsList => {
  const { Site } = await import('./static/site.js');
  const { normalise, run } = await import('./static/forward.js');
  const site = new Site(document.body.dataset.contract);
  const network = await site.network();
  const weights = {};
  for (const layer of network.layers) weights[layer.id] = await site.weights(layer);
  return pixelsList.map(pixels => {
    const image = normalise(Uint8Array.from(pixels), network.layers[0].shape, network.normalisation);
    const outputs = run(network.layers, image, weights);
    return Object.fromEntries(Object.entries(outputs).map(([id, tensor]) => [id, Array.from(tensor.values)]));
  });
}"""

# The pixels a canvas shows, one byte per pixel (the red channel of a gray picture).
CANVAS_GRAY = "canvas => Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.filter((_, i) => i % 4 === 0))"
CANVAS_RGB = "canvas => Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.filter((_, i) => i % 4 !== 3))"


@pytest.fixture(scope="module")
def model(committed_metrics):
    net = FashionCNN()
    net.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    return net.eval()


def torch_outputs(model, metrics, pixels):
    """Every layer's output (float32, PyTorch) for uint8 pixels (28, 28), by layer id."""
    norm = metrics["normalisation"]
    x = data.as_input(torch.as_tensor(np.array(pixels, dtype=np.uint8)[None]), norm["mean"], norm["std"])
    outputs = {"input": x[0]}
    with torch.no_grad():
        for name, child in model.named_children():
            x = child(x)
            outputs[name] = x[0]
    return {name: value.numpy().ravel() for name, value in outputs.items()}


def assert_same(page, expected, what):
    for layer, values in expected.items():
        got = np.array(page[layer], dtype=np.float64)
        error = np.abs(got - values) / np.maximum(1.0, np.abs(values))  # absolute or relative: the larger
        assert error.max() <= 1e-5, f"{what}, {layer}: off by {error.max():.2e} at {int(error.argmax())}"


def test_the_pages_forward_pass_equals_pytorchs(opened, model, committed_metrics, summaries):
    """For every article input and for random inputs, every layer within 1e-5 (absolute or relative)."""
    article = [np.asarray(Image.open(CONTENT / "inputs" / f"{s['id']}.png").convert("L")) for s in summaries]
    rng = np.random.default_rng(7)
    random = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(4)] + [np.zeros((28, 28), np.uint8)]
    inputs = article + random
    computed = opened.evaluate(FORWARD, [pixels.ravel().tolist() for pixels in inputs])
    assert len(computed) == len(inputs)
    for n, (pixels, page) in enumerate(zip(inputs, computed)):
        assert_same(page, torch_outputs(model, committed_metrics, pixels), f"input {n}")


def test_the_benchs_forward_pass_timing_runs_on_the_page(opened):
    """builder/bench.py times the page's forward pass with a script of its own: it runs on this page
    (the page's modules may move; the bench follows them) and times 50 passes."""
    times = opened.evaluate(bench.FORWARD_TIMES)
    assert len(times) == 50 and all(t >= 0 for t in times)


def pad_of(page):
    page.locator(".lw-draw").click()
    pad = page.locator(".lw-sketch-canvas")
    expect(pad).to_be_focused()
    return pad


# True once the URL fragment names the drawing on the pad: every stroke so far has been committed.
SETTLED = """async () => {
  const { drawingLink } = await import('./static/own.js');
  const pad = document.querySelector('.lw-sketch-canvas');
  const { data } = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height);
  const link = await drawingLink(data.filter((_, i) => i % 4 === 0));
  return new URLSearchParams(location.hash.slice(1)).get('input') === link;
}"""


def settled(page):
    page.wait_for_function(SETTLED)


def drawn_pixels(page):
    """The drawing the URL fragment names, decoded here: base64url of raw deflate."""
    link = parse_qs(urlsplit(page.url).fragment)["input"][0]
    assert link.startswith("draw.")
    packed = base64.urlsafe_b64decode(link[5:] + "=" * (-len(link[5:]) % 4))
    return np.frombuffer(zlib.decompress(packed, -15), dtype=np.uint8).reshape(28, 28)


def stroke(page, pad, points):
    box = pad.bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(*point), steps=4)
    page.mouse.up()


def expect_follows(page, model, metrics, pixels, contract):
    """The output table (logits and their probabilities), the status line and conv1's painted map show
    PyTorch's numbers for `pixels`."""
    expected = torch_outputs(model, metrics, pixels)
    logits = expected["fc2"]
    classes = FashionCNN.classes
    expect(page.locator(".lw-status")).to_contain_text(f"predicted {classes[int(logits.argmax())]}")
    shown = page.locator("#fig-fc2 tbody .lw-logit").all_inner_texts()
    assert shown == [build_contract.number(v) for v in logits]
    meters = page.locator("#fig-fc2 tbody tr meter").evaluate_all("meters => meters.map(m => m.value)")
    assert np.allclose(meters, softmax(logits), rtol=0, atol=1e-5), meters
    canvas = page.locator("#fig-conv1 .lw-maps > li.is-current canvas")
    scale, palette = contract["scales"]["conv1"], contract["palettes"][contract["scales"]["conv1"]["cmap"]]
    values = expected["conv1"][:784].astype(np.float64)
    index = np.clip(np.round((values - scale["vmin"]) / (scale["vmax"] - scale["vmin"]) * 255), 0, 255).astype(int)
    colours = np.array([[int(palette[i][j:j + 2], 16) for j in (1, 3, 5)] for i in index]).ravel()
    painted = np.array(canvas.evaluate(CANVAS_RGB))
    assert (painted == colours).mean() > 0.999  # a value exactly half-way between two entries may differ


def test_drawing_with_the_mouse_moves_every_figure(opened, model, committed_metrics, contract):
    pad = pad_of(opened)
    stroke(opened, pad, [(0.5, 0.1), (0.5, 0.9)])
    stroke(opened, pad, [(0.3, 0.1), (0.3, 0.9)])
    stroke(opened, pad, [(0.7, 0.1), (0.7, 0.9)])
    settled(opened)
    pixels = drawn_pixels(opened)
    assert (pixels > 200).sum() > 60, "three strokes were drawn"
    assert np.array_equal(np.array(pad.evaluate(CANVAS_GRAY)).reshape(28, 28), pixels)
    expect_follows(opened, model, committed_metrics, pixels, contract)
    for layer in ("pool2", "fc1"):  # a later carousel and a vector strip are painted too
        expect(opened.locator(f"#fig-{layer} .lw-surface.is-painted").first).to_be_attached()
    opened.locator("#fig-conv2 .lw-maps > li.is-current .lw-surface").click(position={"x": 30, "y": 30})
    value = opened.locator("#fig-conv2 .lw-inspector p b").first
    expect(value).to_be_visible()
    r = c = int(30 / opened.locator("#fig-conv2 .lw-maps > li.is-current .lw-surface img").bounding_box()["width"] * 14)
    assert value.inner_text() == build_contract.number(torch_outputs(model, committed_metrics, pixels)["conv2"][r * 14 + c])
    assert opened.errors == []


def test_drawing_from_the_keyboard(opened, model, committed_metrics, contract):
    pad = pad_of(opened)
    for key in ["ArrowUp"] * 4 + ["Space", "Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown"]:
        pad.press(key)
    settled(opened)
    expect(opened.locator(".lw-status")).to_contain_text("Showing your drawing: predicted")
    pixels = drawn_pixels(opened)
    assert pixels[10, 14] == 255 and pixels[13, 14] == 255, "the cursor starts in the middle and paints as it moves"
    pad.press("e")
    expect(opened.locator('.lw-sketch input[value="eraser"]')).to_be_checked()
    pad.press("ArrowUp")
    pad.press("Space")
    settled(opened)
    assert drawn_pixels(opened)[12, 14] < pixels[12, 14], "the eraser takes paint away"
    expect_follows(opened, model, committed_metrics, drawn_pixels(opened), contract)


def test_a_link_reopens_the_drawing(opened, page, server, context):
    pad = pad_of(opened)
    stroke(opened, pad, [(0.2, 0.2), (0.8, 0.8)])
    settled(opened)
    link, pixels = opened.url, drawn_pixels(opened)
    status = opened.locator(".lw-status").inner_text()
    other = context.new_page()
    other.goto(link)
    expect(other.locator(".lw-sketch-canvas")).to_be_visible()
    expect(other.locator(".lw-status")).to_have_text(status)
    assert np.array_equal(np.array(other.locator(".lw-sketch-canvas").evaluate(CANVAS_GRAY)).reshape(28, 28), pixels)


@pytest.mark.parametrize("link", ["draw.not-a-drawing", "test.99999", "yours.3"])
def test_a_link_to_an_input_the_page_cannot_read_says_so(page, server, link):
    """The figures stay on the first input, and the page names the link's value under the picker."""
    open_page(page, server)
    status = page.locator(".lw-status").inner_text()
    open_page(page, server, f"#input={link}")
    expect(page.locator(".lw-link-said")).to_contain_text(f"The link's input={link} is not used: ")
    expect(page.locator(".lw-status")).to_have_text(status)


def upload_sample():
    """A picture's PNG bytes, and (its pixels (28, 28) as the build converts it, the texts of what was done)."""
    image = garment((150, 110))
    pixels, changes = convert(image, (1, 28, 28), build_contract.conversion())
    return encoded(image, "PNG"), (pixels[0], [build_contract.text(change, **fields) for change, fields in changes])


def test_an_upload_is_converted_as_the_build_converts_and_sent_nowhere(opened, server, model, committed_metrics,
                                                                        contract, tmp_path):
    data_bytes, (expected, changes) = upload_sample()
    path = tmp_path / "coat.png"
    path.write_bytes(data_bytes)
    requests = []
    opened.on("request", lambda request: requests.append(request))
    opened.locator(".lw-upload input").set_input_files(path)
    expect(opened.locator(".lw-upload-said")).to_contain_text("coat.png: converted")
    said = opened.locator(".lw-upload-said").inner_text()
    for change in changes:
        assert change in said
    chip = opened.locator(".lw-yours canvas")
    expect(opened.locator(".lw-yours input")).to_be_checked()
    assert np.array_equal(np.array(chip.evaluate(CANVAS_GRAY)).reshape(28, 28), expected)
    expect_follows(opened, model, committed_metrics, expected, contract)
    assert "input=" not in urlsplit(opened.url).fragment, "an upload is never put in a link"
    assert all(r.method == "GET" and r.url.startswith(server) for r in requests)
    assert not any(r.post_data for r in requests)


DROP = """async ([encoded, name]) => {
  const bytes = Uint8Array.from(atob(encoded), ch => ch.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: 'image/png' }));
  const target = document.querySelector('#fig-conv1');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}"""


def test_an_image_dropped_on_the_page_becomes_the_input(opened):
    data_bytes, (expected, _) = upload_sample()
    opened.evaluate(DROP, [base64.b64encode(data_bytes).decode(), "dropped.png"])
    expect(opened.locator(".lw-upload-said")).to_contain_text("dropped.png")
    expect(opened.locator(".lw-status")).to_contain_text("Showing your image dropped.png")
    assert np.array_equal(np.array(opened.locator(".lw-yours canvas").evaluate(CANVAS_GRAY)).reshape(28, 28), expected)


def test_a_cell_of_the_confusion_matrix_opens_its_test_images(opened, model, committed_metrics, contract,
                                                              fashion_test_split, context, summaries):
    norm = committed_metrics["normalisation"]
    with torch.no_grad():
        x = data.as_input(fashion_test_split.images, norm["mean"], norm["std"])
        predicted = torch.cat([model(batch).argmax(1) for batch in x.split(1000)]).numpy()
    labels = fashion_test_split.labels.numpy()
    mistakes = np.zeros((10, 10), int)
    np.add.at(mistakes, (labels, predicted), 1)
    np.fill_diagonal(mistakes, 0)
    true, wrong = np.unravel_index(mistakes.argmax(), mistakes.shape)
    indices = np.flatnonzero((labels == true) & (predicted == wrong))
    opened.locator("#fig-confusion").scroll_into_view_if_needed()  # its cells become buttons as it nears
    cell = opened.locator(f"#fig-confusion tbody tr:nth-child({true + 1}) td:nth-of-type({wrong + 1}) button")
    expect(cell).to_have_text(str(len(indices)))
    cell.click()
    images = opened.locator("#fig-confusion .lw-cell-image")
    expect(images).to_have_count(len(indices))
    assert [int(t) for t in images.locator("span").all_inner_texts()] == indices.tolist()
    # The first that is not one of the author's inputs (one that is chooses its thumbnail: the test below)
    at = next(n for n, i in enumerate(indices) if not any(s["source"].endswith(f" test image {i}") for s in summaries))
    pixels = fashion_test_split.images[indices[at]].numpy()[0]  # (28, 28): its one channel
    chosen = images.nth(at).locator("canvas").evaluate(CANVAS_GRAY)
    assert np.array_equal(np.array(chosen).reshape(28, 28), pixels)
    images.nth(at).click()
    expect(opened).to_have_url(re.compile(rf"input=test\.{indices[at]}\b"))
    expect_follows(opened, model, committed_metrics, pixels, contract)
    expect(opened.locator(".lw-status")).to_contain_text(f"Showing {FashionCNN.classes[true]}")
    other = context.new_page()
    other.goto(opened.url)
    expect(other.locator(".lw-status")).to_have_text(opened.locator(".lw-status").inner_text())


def test_a_mistake_that_is_one_of_the_authors_inputs_chooses_its_thumbnail(opened, summaries, site, site_url):
    """A test image in a cell of the matrix that the author's picker already offers (its summary's source names
    the test image) chooses that thumbnail's input, and adds no chip of its own beside it."""
    cells = json.loads((site / site_url("confusion")).read_text(encoding="utf-8"))["cells"]
    offered = {int(m.group(1)): s["id"] for s in summaries if (m := re.search(r"test image (\d+)$", s["source"]))}
    index, key = next((i, key) for i, id_ in offered.items() for key, shown in cells.items()
                      if i in shown and key.split("-")[0] != key.split("-")[1])  # a mistake the picker offers
    true, wrong = map(int, key.split("-"))
    chips = opened.locator(".lw-picker input[name=input]")
    before = chips.count()
    opened.locator("#fig-confusion").scroll_into_view_if_needed()
    opened.locator(f"#fig-confusion tbody tr:nth-child({true + 1}) td:nth-of-type({wrong + 1}) button").click()
    opened.locator("#fig-confusion .lw-cell-image", has=opened.locator("span", has_text=re.compile(rf"^{index}$"))).click()
    expect(opened.locator(f".lw-picker input[name=input][value='{offered[index]}']")).to_be_checked()
    expect(chips).to_have_count(before)
    assert opened.errors == []


def test_without_javascript_there_are_no_controls_and_the_matrix_is_plain(browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "index.html")
    expect(page.locator(".lw-picker")).to_be_hidden()
    expect(page.locator("#fig-confusion td")).to_have_count(100)
    expect(page.locator("#fig-confusion button")).to_have_count(0)
    expect(page.locator(".lw-cell-help")).to_be_hidden()
    context.close()


def test_axe_finds_nothing_with_the_pad_and_a_cell_open(new_context, server):
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    page = new_context(bypass_csp=True).new_page()
    open_page(page, server)
    pad_of(page)
    stroke(page, page.locator(".lw-sketch-canvas"), [(0.4, 0.2), (0.4, 0.8)])
    settled(page)
    page.locator("#fig-confusion").scroll_into_view_if_needed()
    page.locator("#fig-confusion tbody tr:nth-child(7) td:nth-of-type(1) button").click()
    expect(page.locator("#fig-confusion .lw-cell-image").first).to_be_visible()
    page.add_script_tag(path=str(AXE))
    assert violations(page) == []
