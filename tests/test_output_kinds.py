"""What the network's last operation gives, said truthfully: logits, probabilities (a softmax),
log-probabilities (a log-softmax) or independent sigmoid scores (tests/models/outputs.py), named
by the last operation that changes values (a flatten or a dropout after it passes them on).

Each kind's model gets random weights and an article, built from the command line; then

- the published scores, probabilities and prediction are an independent float64 forward pass's;
- the attributions are of the score the table shows, integrated gradients recomputed here with
  autograd, and add up to that score;
- in Chromium, the output table, its buttons, the status line and the attribution figure say what
  the score is, and the page's own forward and backward passes (for the reader's inputs) agree
  with PyTorch's;
- endings the page cannot name are refused, in one line that names the operation.

Run: .venv/bin/python -m pytest tests/test_output_kinds.py -x -q
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect

from conftest import CONTRACT, once_each, random_weights_project, run_cli, serving, urls_of
from model.data import as_input
from oracle import published_outputs
from reader_helpers import printed
from tests.models import outputs as models

STEPS = 64  # integrated gradients' midpoints, as the README says the build uses

# kind (its summaries' key) → (model, its last layer's id and type, the table's headings after "Class",
# the word for one score)
KINDS = {
    "logits": ("Logits", "fc", "Linear", ["Logit", "Probability"], "logit"),
    "probabilities": ("Probabilities", "softmax", "Softmax", ["Probability"], "probability"),
    "log_probabilities": ("LogProbabilities", "log_softmax", "LogSoftmax", ["Log-probability", "Probability (its exp)"],
                          "log-probability"),
    "scores": ("Scores", "sigmoid", "Sigmoid", ["Sigmoid score"], "sigmoid score"),
}
# Models whose last operations pass their values on as they are (a flatten, a dropout when evaluating),
# so the operation before them names the kind → (that kind, their last layer's id and type)
PASSED_ON = {"FlattenedScores": ("scores", "flatten_1", "Flatten"), "SequentialScores": ("scores", "3", "Dropout"),
             "ProbabilitiesThenDropout": ("probabilities", "dropout", "Dropout")}
MODELS = {**{name: (kind, last, last_type) for kind, (name, last, last_type, *_) in KINDS.items()}, **PASSED_ON}
ARTICLE = """---
model: tests.models.outputs:{name}
checkpoint: {checkpoint}
---

The network says {{{{ model.output.value }}}}s; the first input: {{{{ first.predicted_name }}}}, {{{{ first.confidence }}}}.

![The output](layer:{last})

![Why](attribution:)
"""


def oracle(name, checkpoint, pixels, normalisation):
    """The model's output for `pixels` (N, H, W), in float64, from its own forward()."""
    model = getattr(models, name)().double().eval()
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    x = as_input(pixels, **normalisation).double()
    return model, x


@pytest.fixture(scope="session")
def sites(tmp_path_factory):
    """build(name) once per session for each model, for every test here."""
    return once_each(build, tmp_path_factory)


@pytest.fixture(params=list(MODELS))
def made(request, sites):
    return sites(request.param)


@pytest.fixture(params=list(KINDS))
def one_of_each_kind(request, sites):
    """The browser's page loads: one model of each kind."""
    return sites(KINDS[request.param][0])


def build(name, folder):
    """One model with random weights, its article built into folder/site."""
    kind, last, last_type = MODELS[name]
    *_, headings, word = KINDS[kind]
    torch.manual_seed(7)
    model = getattr(models, name)()
    article = ARTICLE.format(name=name, checkpoint="{checkpoint}", last=last)
    content, metrics, images = random_weights_project(model, folder, article)
    process = run_cli("build", "--content", content, "--out", folder / "site")
    assert process.returncode == 0, process.stderr
    pixels = np.stack([np.asarray(Image.open(image)) for image in images])
    net, x = oracle(name, folder / "net.pt", pixels, metrics["normalisation"])
    with torch.no_grad():
        scores = net(x)
    return SimpleNamespace(kind=kind, name=name, headings=headings, word=word, site=folder / "site", net=net, x=x,
                           scores=scores, ids=[image.stem for image in images], last=last, last_type=last_type)


def read(site, kind, **fields):
    return json.loads((site / urls_of(site)(kind, **fields)).read_text(encoding="utf-8"))


def probabilities_of(kind, scores):
    """What the output's scores say of the classes' probabilities, written from each kind's definition."""
    return {"logits": lambda: torch.softmax(scores, 1), "probabilities": lambda: scores,
            "log_probabilities": lambda: scores.exp(), "scores": lambda: None}[kind]()


def test_the_published_scores_are_the_models_own_output(made):
    summaries = read(made.site, "inputs")
    network = read(made.site, "network")
    probabilities = probabilities_of(made.kind, made.scores)
    contract = json.loads((made.site / CONTRACT).read_text(encoding="utf-8"))
    assert contract["output"]["kind"] == made.kind
    for n, summary in enumerate(summaries):
        assert summary["id"] == made.ids[n]
        assert np.allclose(summary[made.kind], made.scores[n].numpy(), rtol=1e-5, atol=1e-6)
        exact = published_outputs(made.site, network, summary["id"])[network["layers"][-1]["id"]]
        assert np.allclose(exact, made.scores[n].numpy(), rtol=1e-5, atol=1e-6)
        if probabilities is None:
            assert "probabilities" not in summary and "logits" not in summary
        else:
            assert np.allclose(summary["probabilities"], probabilities[n].numpy(), rtol=1e-5, atol=1e-7)
            assert abs(sum(summary["probabilities"]) - 1) < 1e-5
        assert summary["predicted"] == int(made.scores[n].argmax())
        assert ("logits" in summary) == (made.kind == "logits")


def test_the_attributions_are_of_the_shown_score_and_add_up_to_it(made):
    """Integrated gradients (softmax, log-softmax and sigmoid are not piecewise linear), recomputed
    here with autograd on the model's own forward(); the logits model's are exact gradients."""
    record = read(made.site, "attributions")
    key = made.word.replace("-", "_").replace("sigmoid ", "")
    assert record["exact"] == (made.kind == "logits")
    for n, input_id in enumerate(made.ids):
        x = made.x[n:n + 1]
        baseline = torch.full_like(x, record["baseline"]) if not record["exact"] else torch.zeros_like(x)
        path = [baseline + (k + 0.5) / STEPS * (x - baseline) for k in range(STEPS)] if not record["exact"] else [x]
        points = torch.cat(path).requires_grad_(True)
        with torch.no_grad():
            at_baseline = made.net(baseline)[0]
        gradients = np.frombuffer((made.site / urls_of(made.site)("attribution", input=input_id)).read_bytes(),
                                  dtype="<f4").reshape(len(made.scores[n]), -1)
        for c, entry in enumerate(record["inputs"][input_id]):
            (expected,) = torch.autograd.grad(made.net(points)[:, c].sum(), points)
            expected = (expected.mean(0) * (x[0] - baseline[0])).ravel()
            contributions = gradients[c] * (x[0] - baseline[0]).ravel().numpy()
            assert np.allclose(contributions, expected.numpy(), atol=1e-6 + 1e-4 * float(expected.abs().max()))
            score = float(made.scores[n, c])
            assert abs(entry[key] - score) <= 1e-5 * max(1, abs(score))
            assert abs(entry["sum"] - float(expected.sum())) <= 1e-4 * max(1, abs(score))
            if record["exact"]:
                assert abs(entry["sum"] + entry["constant"] - score) <= 1e-5 * max(1, abs(score))
            else:
                assert abs(entry[f"baseline_{key}"] - float(at_baseline[c])) <= 1e-5 * max(1, abs(score))
                assert abs(entry["sum"] + entry[f"baseline_{key}"] + entry["gap"] - score) <= 1e-5 * max(1, abs(score))


def test_the_article_names_the_score_without_javascript(made):
    html = (made.site / "index.html").read_text(encoding="utf-8")
    assert f"The network says {made.word}s;" in html
    heads = "".join(f'<th scope="col">{heading}</th>' for heading in made.headings)
    assert f'<thead><tr><th scope="col">Class</th>{heads}</tr></thead>' in html
    summary = read(made.site, "inputs")[0]
    c = summary["predicted"]
    name = summary["classes"][c]
    assert f"= {made.word} of {name} (" in html
    if made.kind == "scores":
        assert "Logit" not in html and "Probability" not in html and "%" not in html.split("lw-outputs")[1].split("</table>")[0]


def test_the_page_says_what_the_score_is_and_computes_it_as_pytorch(one_of_each_kind, browser):
    """One page load per kind: the table's words and numbers, the status line, the inspector and
    the attribution of a class chosen in the table; then the page's forward and backward passes
    (which explain the reader's own inputs) on the second input's image, against autograd."""
    made = one_of_each_kind
    with serving(made.site) as server:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + "index.html")
        table = page.locator(".lw-outputs")
        expect(table.locator(".lw-logit").first).to_be_visible()
        expect(table.locator("thead th")).to_have_text(["Class", *made.headings])
        page.locator(f'.lw-picker input[value="{made.ids[1]}"]').check()  # the status line speaks on a choice
        summary = read(made.site, "inputs")[1]
        scores = made.scores[1]
        c = int(scores.argsort()[-2])  # the runner-up: another class than the one shown at first
        button = table.locator(".lw-logit").nth(c)
        value = float(scores[c])
        text = f"{100 * value:.1f}%" if made.kind == "probabilities" else printed(value)
        expect(button).to_have_text(text)  # the table has followed the choice: until then it shows the first input's
        expect(button).to_have_attribute("aria-label", f"{made.headings[0]} of {summary['classes'][c]}: {text}; explain it")
        shown = float(button.inner_text().replace("\u2212", "-").rstrip("%")) / (100 if made.kind == "probabilities" else 1)
        assert abs(shown - float(scores[c])) <= 0.006 * max(abs(float(scores[c])), 0.01)
        p = summary["predicted"]
        probabilities = probabilities_of(made.kind, made.scores)
        confidence = (f"score {printed(scores[p])}" if probabilities is None else
                      f"{100 * float(probabilities[1, p]):.1f}%")
        expect(page.locator(".lw-status")).to_contain_text(f"predicted {summary['classes'][p]}, {confidence}.")
        button.click()
        inspector = page.locator(f'.lw-figure[data-layer="{made.last}"] .lw-inspector')
        expect(inspector).to_be_visible()
        expect(inspector.locator(".lw-formula")).to_contain_text(f"{made.last_type}:")
        expect(inspector.locator("p").first).to_contain_text(
            f"{made.last}, element {c + 1} of {len(scores)}, the {made.word} of {summary['classes'][c]}: ")
        figure = page.locator("#fig-attribution")
        figure.scroll_into_view_if_needed()
        expect(figure.locator(".lw-attr-sum")).to_contain_text(f"= {made.word} of {summary['classes'][c]} (")
        page_passes = page.evaluate("""async ([last, c]) => {
            const base = new URL('static/', document.baseURI);
            const [{ run }, { attribution }, { Site }] = await Promise.all(
                ['forward.js', 'backward.js', 'site.js'].map(name => import(new URL(name, base))));
            const site = new Site(document.body.dataset.contract);
            const [network, summaries] = await Promise.all([site.network(), site.json('inputs')]);
            const weights = Object.fromEntries(await Promise.all(
                network.layers.map(async layer => [layer.id, await site.weights(layer)])));
            const outputs = await site.outputs(summaries[1].id);
            const image = outputs[network.layers[0].id];
            const computed = run(network.layers, image, weights);
            const seed = new Float64Array(computed[last].size);
            seed[c] = 1;
            const record = await site.json('attributions');
            const found = attribution(network, image, weights, seed,
                                      { steps: record.steps ?? 64, baseline: image.map(() => record.baseline ?? 0) });
            return { scores: Array.from(computed[last].values), sum: found.sum, value: found.value };
        }""", [made.last, c])
        page.close()
    assert not errors, errors
    assert np.allclose(page_passes["scores"], scores.numpy(), rtol=1e-5, atol=1e-6)
    baseline_value = float(made.scores[1, c])
    assert abs(page_passes["value"] - baseline_value) <= 1e-5 * max(1, abs(baseline_value))
    record = read(made.site, "attributions")
    assert abs(page_passes["sum"] - record["inputs"][summary["id"]][c]["sum"]) <= 1e-4 * max(1, abs(baseline_value))


@pytest.mark.parametrize("name, named", [
    ("SoftmaxOverTheBatch", "operation 'softmax' (F.softmax) of tests.models.outputs:SoftmaxOverTheBatch runs over "
                            "axis 0 of a tensor of shape (N, 10)"),
    ("SoftmaxInside", "operation 'softmax' (x.softmax) of tests.models.outputs:SoftmaxInside is not the model's "
                      "last operation"),
    ("Temperature", "operation 'truediv' (operator.truediv)"),
])
def test_an_ending_the_page_cannot_name_is_refused_in_one_line(name, named, make_content, tmp_path):
    article = make_content("Text.\n", front=[f"model: tests.models.outputs:{name}"])
    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site")
    assert process.returncode == 1
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], process.stderr
    assert not (tmp_path / "site").exists()
