"""Printed sums visibly add up (issue 20): wherever the page prints terms and their total (the
inspector's working for convolutions, their channels and colours, linear layers' largest terms and
the rest, averages, sums of two layers, batch norm's steps; the attribution figure's sums, its units
table and its split by channel), the printed terms add up EXACTLY, in decimal arithmetic, to the
printed total, all with one number of decimals: the fewest, from the style's three significant
digits of the sum's largest number up to float32's precision, for which they do; where none does,
the page says ≈. Every printed number is within half a unit of its last digit of the oracle's (the
same arithmetic in float64 with torch and NumPy on the published float32 outputs and weights).

The values explained are chosen from the published outputs (data/inputs/*.f32): mostly ones whose
terms, printed as the page printed them before (three significant digits each), did not add up
("3" for 3.003 beside "2" for 1.997), and a few at random, in every layer with a sum of the default
network, of tests/models/styles.py's models and of the colour network of test_colour_arithmetic.

    .venv/bin/python -m pytest tests/test_printed_sums.py
"""
import math
import re
from decimal import Context, Decimal, localcontext
from types import SimpleNamespace

import numpy as np
from playwright.sync_api import expect

from conftest import CHECKPOINT
from model.cnn import FashionCNN
from oracle import adaptive_rows, conv_terms, pool_window, published_outputs, published_tensors
import torch

from test_colour_arithmetic import colour_article  # noqa: F401 (a fixture)
from test_colour_arithmetic import random_model
from test_inspector_own_models import model  # noqa: F401 (a fixture)
from test_inspector_own_models import figure_of, select

MINUS, ABOUT = "\u2212", "\u2248"
DIGITS = 3            # the style's significant digits (the contract's format)
LISTED = 6            # how many of a Linear value's largest positive and negative products are listed
BREAKING, RANDOM = 4, 2  # values a layer is explained at: whose old printing broke a sum, and any
SUMMED = ("Conv2d", "Linear", "AvgPool2d", "AdaptiveAvgPool2d", "Mean", "Add", "BatchNorm2d", "BatchNorm1d")


# --- the rule, from its specification -------------------------------------------------------------

def rounded(value, decimals):
    """`value` (a float, exactly) rounded to `decimals` decimals, an exact tie to the even digit."""
    return Decimal(float(value)).quantize(Decimal(1).scaleb(-decimals))


def first_decimals(numbers):
    """The decimals that give the largest of `numbers` the style's significant digits."""
    largest = max(abs(float(value)) for value in numbers)
    return max(0, DIGITS - 1 - math.floor(math.log10(float(f"{largest:.{DIGITS - 1}e}")))) if largest else 0


def last_decimals(numbers):
    """The finest decimal still no finer than float32's spacing at the largest of `numbers`."""
    largest = max(abs(float(value)) for value in numbers)
    return math.floor(-math.log10(2.0 ** (math.frexp(largest)[1] - 1 - 23))) if largest else 0


def adds_up(numbers, decimals):
    return sum(rounded(value, decimals) for value in numbers[:-1]) == rounded(numbers[-1], decimals)


def fewest_decimals(numbers):
    """The decimals a sum (terms, then total) must be printed with, or None where none in range does."""
    first = first_decimals(numbers)
    return next((d for d in range(first, max(first, last_decimals(numbers)) + 1) if adds_up(numbers, d)), None)


def expected_decimals(sums, chains):
    """{name: decimals (None: ≈)} of `sums` ({name: numbers}): the sums of a chain (one's total a term
    of the next, as a conv's products' sum is of its sum plus bias) share the fewest decimals that make
    all of them add up where some do, so the shared number reads the same; others have their own."""
    expected = {}
    for chain in (chain for chain in chains if all(name in sums for name in chain)):
        numbers = [value for name in chain for value in sums[name]]
        first, last = first_decimals(numbers), last_decimals(numbers)
        joint = next((d for d in range(first, max(first, last) + 1)
                      if all(adds_up(sums[name], d) for name in chain)), None)
        if joint is not None:
            expected.update(dict.fromkeys(chain, joint))
    return {name: expected.get(name, fewest_decimals(numbers)) for name, numbers in sums.items()}


def check_alone(what, texts, sign, numbers):
    """check_sum of a sum that shares no number with another."""
    check_sum(what, texts, sign, numbers, fewest_decimals(numbers))


def broke_before(numbers):
    """Whether the numbers, each printed with three significant digits as the page did, fail to add up."""
    old = [Decimal(f"{float(value):.{DIGITS}g}") for value in numbers]
    return sum(old[:-1]) != old[-1]


def decimal_of(text):
    text = text.strip()
    assert "-" not in text, f"{text!r}: an ASCII hyphen rather than a minus sign"
    return Decimal(text.replace(MINUS, "-"))


def check_sum(what, texts, sign, numbers, fewest):
    """The printed `texts` (terms, then the total) of a sum whose oracle numbers are `numbers`,
    printed with `sign` ('=' or '≈') between terms and total and with `fewest` decimals (None:
    no decimals within float32's precision make them add up)."""
    assert len(texts) == len(numbers), f"{what}: printed {texts}, the oracle has {len(numbers)} numbers"
    printed = [decimal_of(text) for text in texts]
    for text, value, number in zip(texts, numbers, printed):
        half = Decimal(5).scaleb(number.as_tuple().exponent - 1)
        assert abs(number - Decimal(float(value))) <= half * Decimal("1.000000001") + Decimal("1e-15"), \
            f"{what}: {text} is not {float(value)!r} to its last digit"
    if sign == "=":
        assert sum(printed[:-1]) == printed[-1], f"{what}: {' + '.join(texts[:-1])} is not {texts[-1]}"
    places = {-number.as_tuple().exponent for number in printed}
    assert len(places) == 1, f"{what}: {texts} are not printed with one number of decimals"
    if sign == "=":
        assert places == {fewest}, f"{what}: {texts} printed with {places} decimals; they add up with {fewest}"
    else:
        assert sign == ABOUT, f"{what}: {sign!r} between the terms and the total"
        assert fewest is None, f"{what}: {texts} says ≈, yet {fewest} decimals add up"
        assert places == {first_decimals(numbers)}, f"{what}: ≈ with {places} decimals"


# --- each layer's sums, worked out by the oracle ------------------------------------------------

def sums_of(net, layer, at):
    """{name: numbers (terms, then total)} of the sums the inspector prints for value `at`, and
    under "chains" the names of those that share a number."""
    kind, weights = layer["type"], net.weights[layer["id"]]
    inputs = [net.outputs[source] for source in layer["inputs"]]
    bias = weights.get("bias")
    found = {"chains": []}
    if kind == "Conv2d":
        k = at[0]
        terms = conv_terms(inputs[0], weights["weight"], layer["settings"], *at)
        for channel, _, _, products in terms:
            found[f"products {channel}"] = [*products.ravel(), products.sum()]
        parts = [products.sum() for *_, products in terms]
        total = sum(parts)
        b = [] if bias is None else [float(bias[k])]
        if net.reads_image(layer) and len(terms) > 1:
            found["colours"] = [*parts, *b, total + sum(b)]
        else:
            if len(terms) > 1:
                found["maps"] = [*parts, total]
            if b:
                found["bias"] = [total, *b, total + b[0]]
            found["chains"].append([name for name in ("maps" if len(terms) > 1 else f"products {terms[0][0]}", "bias")
                                    if name in found])
    elif kind == "Linear":
        (i,) = at
        products = weights["weight"][i].numpy() * inputs[0].ravel()
        order = np.argsort(-products, kind="stable")
        positive = [j for j in order[:LISTED] if products[j] > 0]
        negative = [j for j in order[::-1][:LISTED] if products[j] < 0]
        listed = positive + negative
        rest = [j for j in range(products.size) if j not in listed]
        found["terms"] = [*products[listed], *([products[rest].sum()] if rest else []), products.sum()]
        found["listed"], found["products"] = listed, products
        if bias is not None:
            found["bias"] = [products.sum(), float(bias[i]), products.sum() + float(bias[i])]
            found["chains"].append(["terms", "bias"])
    elif kind in ("AvgPool2d", "AdaptiveAvgPool2d", "Mean"):
        cells = window_of(layer, inputs[0], at)
        found["window"] = [*cells, sum(cells)]
    elif kind == "Add":
        one, other = (float(x[broadcast_at(x.shape, at)]) for x in inputs)
        found["add"] = [one, other, one + other]
    elif kind.startswith("BatchNorm"):
        k, x = at[0], float(inputs[0][tuple(at)])
        mean, variance = float(weights["running_mean"][k]), float(weights["running_var"][k])
        found["difference"] = [x, -mean, x - mean]
        if "weight" in weights:
            scaled = (x - mean) / math.sqrt(variance + layer["settings"]["eps"]) * float(weights["weight"][k])
            found["shift"] = [scaled, float(weights["bias"][k]), scaled + float(weights["bias"][k])]
    return found


def broadcast_at(shape, at):
    """The index of a tensor of `shape` that broadcasting reads at index `at` of a sum."""
    extra = len(at) - len(shape)
    return tuple(0 if length == 1 else at[axis + extra] for axis, length in enumerate(shape))


def window_of(layer, x, at):
    """The cells of a mean's window that count, row by row (padding that counts as 0)."""
    if layer["type"] == "Mean":
        return list(x[at[0]].ravel())
    k, r, c = at
    if layer["type"] == "AdaptiveAvgPool2d":
        (top, bottom), (left, right) = (adaptive_rows(i, size, out) for i, size, out
                                        in zip((r, c), x.shape[1:], layer["shape"][1:]))
        return list(x[k, top:bottom, left:right].ravel())
    cells = pool_window(layer["settings"], x[k], r, c, maximum=False).ravel()
    if layer["settings"].get("count_include_pad", True):
        return list(np.nan_to_num(cells, nan=0.0))
    return [value for value in cells if not np.isnan(value)]


def chosen_values(net, layer, seed):
    """Values of a layer to explain: BREAKING whose sums printed the old way did not add up (so the
    test meets the bug), then RANDOM at random, from a seeded sample of its outputs."""
    rng = np.random.default_rng(seed)
    shape = net.outputs[layer["id"]].shape
    sample = [[int(i) for i in np.unravel_index(flat, shape)]
              for flat in rng.permutation(int(np.prod(shape)))[:300]]
    breaking = [at for at in sample
                if any(broke_before(numbers) for name, numbers in sums_of(net, layer, at).items()
                       if name not in ("listed", "products", "chains"))]
    others = [at for at in sample if at not in breaking[:BREAKING]]
    return breaking[:BREAKING] + others[:RANDOM]


# --- what the page prints -----------------------------------------------------------------------

PANEL = """figure => {
  const panel = figure.querySelector('.lw-inspector');
  const cells = table => [...table.tBodies[0].rows].map(row => [...row.cells].map(cell => cell.textContent.trim()));
  return {
    text: panel.innerText,
    groups: [...panel.querySelectorAll('.lw-sum')].map(group => ({
      caption: group.querySelector('table').caption.textContent,
      products: cells(group.querySelectorAll('table')[2]).flat(),
      sum: group.nextElementSibling.textContent })),
    buttons: [...panel.querySelectorAll('button[data-channel]')].map(button => button.textContent),
    terms: [...panel.querySelectorAll('table.lw-terms')].map(cells).flat(),
    window: [...panel.querySelectorAll(':scope > table')].map(cells).flat(2),
  };
}"""
NUMBER = r"([\d\u2212][\d.]*(?:e[\u2212+]\d+)?)"
SIGN = r" (=|\u2248) "


def printed_sums(page, net, layer, at, found):
    """{name: (texts, sign)} of the sums the inspector shows for value `at`, read from the page."""
    figure = figure_of(page, layer["id"])
    shown = figure.evaluate(PANEL)
    text, kind = shown["text"], layer["type"]
    sums = {}
    if kind == "Conv2d":
        groups = shown["groups"]
        if shown["buttons"]:
            sums["maps"] = (shown["buttons"] + [match(r"maps' sums add up to (\u2248 )?" + NUMBER + r"\.", text)[2]],
                            about(match(r"maps' sums add up to (\u2248 )?", text)[1]))
            channel = most_broken(found, "products")
            figure.locator(f'button[data-channel="{channel}"]').click()
            expect(figure.locator(".lw-detail table")).to_have_count(3)
            groups = figure.evaluate(PANEL)["groups"]
            channels = [channel]
        else:
            channels = [int(name.split()[1]) for name in found if name.startswith("products")]
        for channel, group in zip(channels, groups):
            said = match(r"Sum of the \d+ products(: |" + SIGN + ")" + NUMBER + "$", group["sum"].strip())
            sums[f"products {channel}"] = (group["products"] + [said[3]], said[2] or "=")
        if "colours" in found:
            line = match(r"Red " + NUMBER + r" \+ green " + NUMBER + r" \+ blue " + NUMBER
                         + r"(?: \+ bias " + NUMBER + ")?" + SIGN + NUMBER + ", the value shown", text)
            sums["colours"] = ([n for n in line.groups()[:4] if n] + [line[6]], line[5])
        elif "bias" in found:
            line = match(NUMBER + r" \+ bias " + NUMBER + SIGN + NUMBER + ", the value shown", text)
            sums["bias"] = ([line[1], line[2], line[4]], line[3])
    elif kind == "Linear":
        rows = shown["terms"]
        listed = [int(row[0]) - 1 for row in rows]
        assert sorted(listed) == sorted(int(j) for j in found["listed"]), "the listed terms"
        found["terms"] = [found["products"][j] for j in listed] + found["terms"][len(listed):]  # in the page's order
        rest = re.search(r"The other \d+ terms add up to " + NUMBER + r"\.", text)
        line = match(r"All \d+ terms add up to (\u2248 )?" + NUMBER + "; ", text)
        sums["terms"] = ([row[3] for row in rows] + ([rest[1]] if rest else []) + [line[2]], about(line[1]))
        if "bias" in found:
            line = match(r"; " + NUMBER + r" \+ bias " + NUMBER + SIGN + NUMBER + ", the value shown", text)
            sums["bias"] = ([line[1], line[2], line[4]], line[3])
    elif kind in ("AvgPool2d", "AdaptiveAvgPool2d", "Mean"):
        line = match(r"Sum (\u2248 )?" + NUMBER + " ÷", text)
        sums["window"] = ([cell for cell in shown["window"] if cell != "pad"] + [line[2]], about(line[1]))
    elif kind == "Add":
        line = match(r"\(both outlined\): " + NUMBER + r" \+ " + NUMBER + SIGN + NUMBER, text)
        sums["add"] = ([line[1], line[2], line[4]], line[3])
    elif kind.startswith("BatchNorm"):
        line = match(r"gave " + NUMBER + r": \(" + NUMBER + " − " + NUMBER + r"\) ÷ √\(" + NUMBER + r" \+ " + NUMBER
                     + r"\)(?: × " + NUMBER + r" \+ " + NUMBER + ")?" + SIGN + NUMBER + " ÷ ", text)
        mean = line[3][1:] if line[3].startswith(MINUS) else MINUS + line[3]
        sums["difference"] = ([line[2], mean, line[9]], line[8])
        if "shift" in found:
            line = match(NUMBER + r" \+ " + NUMBER + SIGN + NUMBER + ", the value shown", text)
            sums["shift"] = ([line[1], line[2], line[4]], line[3])
    return sums


def match(pattern, text):
    found = re.search(pattern, text)
    assert found, f"the page does not print {pattern!r}:\n{text}"
    return found


def about(prefix):
    return ABOUT if prefix else "="


def most_broken(found, prefix):
    """The channel whose products, printed the old way, missed their sum the most."""
    def miss(numbers):
        old = [Decimal(f"{float(value):.{DIGITS}g}") for value in numbers]
        return abs(sum(old[:-1]) - old[-1])
    return max((name for name in found if name.startswith(prefix)),
               key=lambda name: (miss(found[name]), -int(name.split()[1]))).split()[1]


def check_layers(page, net, layers, seed=0):
    """Explain the chosen values of each layer with a sum; every sum printed adds up. Returns how many
    sums were checked and how many of them had broken the old way."""
    wrong, checked, broke = [], 0, 0
    for n, layer in enumerate(layers):
        if not figure_of(page, layer["id"]).count():
            continue  # the article has no figure of it
        for at in chosen_values(net, layer, seed + n):
            found = sums_of(net, layer, at)
            try:
                select(page, layer, at)
                printed = printed_sums(page, net, layer, at, found)
                assert printed, f"no sum printed for {layer['id']} at {at}"
                expected = expected_decimals({name: found[name] for name in printed}, found["chains"])
                for name, (texts, sign) in printed.items():
                    check_sum(f"{net.name}.{layer['id']} at {at}, {name}", texts, sign, found[name], expected[name])
                    checked += 1
                    broke += broke_before(found[name])
            except AssertionError as error:
                wrong.append(str(error))
    assert wrong == [], "\n".join(wrong)
    return checked, broke


def summed_layers(network):
    return [layer for layer in network["layers"] if layer["type"] in SUMMED]


def network_of(name, site, network, input_id):
    layers = {layer["id"]: layer for layer in network["layers"]}
    image = network["layers"][0]["id"]
    return SimpleNamespace(
        name=name, layers=layers, outputs=published_outputs(site, network, input_id),
        weights={layer_id: published_tensors(site, layer) for layer_id, layer in layers.items()},
        reads_image=lambda layer: layer["inputs"] == [image])


# --- the attribution figure -----------------------------------------------------------------------

def contributions_of(model, image):
    """Each class's contributions x · ∂logit/∂x, (classes, C, H, W), by autograd in float64 on the
    published input `image` (C, H, W), the model's weights as they are."""
    model = model.double().eval()
    x = torch.as_tensor(image, dtype=torch.float64)[None].requires_grad_(True)
    logits = model(x)[0]
    rows = [torch.autograd.grad(logits[c], x, retain_graph=True)[0][0] for c in range(len(logits))]
    return (torch.stack(rows) * x.detach()[0]).numpy()


def check_attribution(page, net, classes, contributions):
    """The attribution figure's sums for the class it explains (the last logit chosen): Σ contributions +
    constant = logit, why A and not B, the units table, and for a colour image the split by channel
    and a pixel's channels; the logits are the published float32 ones, as the page reads them."""
    figure = page.locator(".lw-figure-attribution")
    figure.scroll_into_view_if_needed()
    expect(figure.locator(".lw-attr-surface canvas").first).to_be_attached()  # the script has taken over
    last = list(net.layers.values())[-1]
    logits = net.outputs[last["id"]].ravel()
    sums = contributions.reshape(len(classes), -1).sum(axis=1)
    line = match(r"Σ contributions \(" + NUMBER + r"\) \+ constant \(" + NUMBER + r"\)" + SIGN + r"\S+ of (.+) \("
                 + NUMBER + r"\)$", figure.locator(".lw-attr-sum").inner_text())
    c = classes.index(line[4])
    line = [*line.groups()[:3], line[5]]
    line.insert(0, None)  # line[k] as for a match
    check_alone("Σ contributions + constant = logit", [line[1], line[2], line[4]], line[3],
              [sums[c], logits[c] - sums[c], logits[c]])
    checked = 1
    why = figure.locator(".lw-attr-why-sum")
    if why.count():
        line = match(r"Σ differences \(" + NUMBER + r"\) \+ constant \(" + NUMBER + r"\)" + SIGN + r".* − \S+ of (.+) \("
                     + NUMBER + r"\)$", why.inner_text())
        b = classes.index(line[4])
        difference, summed = logits[c] - logits[b], sums[c] - sums[b]
        check_alone(f"why {classes[c]} and not {classes[b]}", [line[1], line[2], line[5]], line[3],
                  [summed, difference - summed, difference])
        checked += 1
    units = figure.locator(".lw-attr-units")
    if units.count():
        before = net.outputs[last["inputs"][0]].ravel()
        tensors = net.weights[last["id"]]
        products = tensors["weight"][c].numpy() * before
        bias = float(tensors["bias"][c]) if "bias" in tensors else 0.0
        rows = units.locator("tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.textContent.trim()))")
        shown = [int(row[0]) - 1 for row in rows[:-2]]
        rest = [j for j in range(products.size) if j not in shown]
        total = units.locator("tfoot td").inner_text()
        check_alone("the units table", [row[-1] for row in rows] + [total.removeprefix(ABOUT + " ")],
                  ABOUT if total.startswith(ABOUT) else "=",
                  [*products[shown], products[rest].sum(), bias, products.sum() + bias])
        checked += 1
    if contributions.shape[1] == 3:
        line = match(r"by channel, Σ contributions = red " + NUMBER + r" \+ green " + NUMBER + r" \+ blue " + NUMBER
                     + SIGN + NUMBER + r"\.", figure.locator(".lw-attr-channels").inner_text())
        split = contributions[c].reshape(3, -1).sum(axis=1)
        check_alone("the split by channel", [line[1], line[2], line[3], line[5]], line[4], [*split, split.sum()])
        figure.locator(".lw-attr-surface canvas").first.focus()  # pixel (1, 1)
        line = match(r"red \S+ × \S+ = " + NUMBER + r"; green \S+ × \S+ = " + NUMBER + r"; blue \S+ × \S+ = " + NUMBER
                     + r"; together(?: |" + SIGN + ")" + NUMBER + "$", figure.locator(".lw-attr-pixel").inner_text())
        pixel = contributions[c][:, 0, 0]
        check_alone("a pixel's channels", [line[1], line[2], line[3], line[5]], line[4] or "=", [*pixel, pixel.sum()])
        checked += 2
    return checked


# --- the tests ------------------------------------------------------------------------------------

def test_the_default_networks_sums_add_up(opened, site, network_json, first):
    net = network_of("default", site, network_json, first["id"])
    checked, broke = check_layers(opened, net, summed_layers(network_json))
    print(f"\ndefault network: {checked} sums checked, {broke} of which printed the old way did not add up")
    assert broke >= 4, "the values chosen do not meet the bug"
    model = FashionCNN()
    model.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    attributions = check_attribution(opened, net, network_json["classes"],
                                     contributions_of(model, net.outputs[network_json["layers"][0]["id"]]))
    print(f"the attribution figure: {attributions} sums checked")
    assert opened.errors == []


def test_each_own_models_sums_add_up(model, new_context, serve):  # noqa: F811 (the fixture)
    page = new_context().new_page()
    page.goto(serve(model.site).url + "index.html")
    expect(page.locator(".lw-surface[tabindex='0']").first).to_be_attached()  # the script runs
    net = network_of(model.name, model.site, model.network, model.input)
    layers = summed_layers(model.network)
    checked, broke = check_layers(page, net, layers)
    print(f"\n{model.name}: {checked} sums checked in {sorted({layer['type'] for layer in layers})}, {broke} broke before")


def test_the_colour_networks_sums_add_up(colour_article, page, serve):  # noqa: F811 (the fixture)
    page.goto(serve(colour_article.site).url + "index.html")
    expect(page.locator(".lw-surface[tabindex='0']").first).to_be_attached()
    net = network_of("colour", colour_article.site, colour_article.network, colour_article.first)
    checked, broke = check_layers(page, net, summed_layers(colour_article.network))
    print(f"\ncolour network: {checked} sums checked, {broke} broke before")
    assert broke >= 4
    image = net.outputs[colour_article.network["layers"][0]["id"]]
    attributions = check_attribution(page, net, colour_article.network["classes"],
                                     contributions_of(random_model(), image))
    print(f"the attribution figure: {attributions} sums checked")


# --- the rule's two twins, on edge cases --------------------------------------------------------------

EDGES = [
    [0.125, 0.125, 0.25],                  # ties: Python rounds to the even digit, JavaScript's toFixed away
    [2.5, -2.5, 0.0], [1.5, 1.0, 2.5], [-2.5, 0.0, -2.5],
    [0.0, -0.0, -0.0], [1.0, -1.0, -0.0],  # −0 prints as 0
    [1e-9, 2e-9, 3e-9], [1e-9, -1e-9, 0.0],
    [999.5, 0.5, 1000.0], [999.5, 999.5, 1999.0],
    [3.4e20, 1.0, 3.4e20 + 1.0], [3.4e20, 3.4e20, 6.8e20],
    [1e21, 1e21, 2e21], [-3.4e38, 1.0, -3.4e38], [6.02e23, -6.02e23, 0.0],  # from 1e21 toFixed writes an exponent
    [3.003, 1.997, 5.0], [-3.003, 1.997, -1.006], [12.345, -0.0051, -7.0, 5.3399],
    [*(float(np.float32(0.1 * k)) for k in range(1, 31)), 46.5],   # many terms
    [0.1, 0.2, 0.30000001192092896],       # adds up only within float32's spacing
    [1.0, 1e-8, 1.0],                      # not even there: ≈
]


def test_the_page_and_the_build_print_sums_alike(theme_page):
    """format.js printedSums and builder/contract.py printed_sums, on the same edge cases, choose the same
    decimals and relation and print the same texts; where they say '=', the printed terms add up, in
    decimal arithmetic, to the printed total."""
    from builder import contract
    page = theme_page.evaluate("""async ([edges, format]) => {
        const { printedSums } = await import(new URL('static/format.js', document.baseURI));
        return edges.map(numbers => {
            const sums = printedSums([numbers], format);
            return [sums.decimals, sums.exact, sums.equals, sums.about, numbers.map(sums.number)];
        });
    }""", [EDGES, contract.FORMAT])
    for numbers, (decimals, exact, equals, about, texts) in zip(EDGES, page):
        build = contract.printed_sums(numbers)
        assert [decimals, exact, equals, about, texts] == \
            [build.decimals, build.exact, build.equals, build.about, [build.number(x) for x in numbers]], numbers
        assert equals == (" = " if exact else f" {ABOUT} ") and about == ("" if exact else f"{ABOUT} ")
        printed = [Decimal(text.replace(MINUS, "-")) for text in texts]
        with localcontext(Context(prec=1000)):  # every digit of a double, up to 3.4e38's 39
            assert (sum(printed[:-1]) == printed[-1]) == exact, (numbers, texts)
            assert exact == (fewest_decimals(numbers) is not None), numbers
        assert all(text.count(".") <= 1 and "e" not in text and (text.split(".") + [""])[1].__len__() == decimals
                   for text in texts), texts
