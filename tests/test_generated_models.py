"""Truth by generation: a few hundred random networks drawn from the grammar of supported operations
(tests/generated_models.py: non-square, strided, dilated, grouped, padded, ceil_mode, in place,
branches that add or concatenate, every operation of builder.operations) are each traced by the
builder, which must explain truthfully each model whose steps it supports, and refuse each other
model with a BuildError whose message names the reason the grammar gives for its first step that
must be refused (its Step.refused). Explained, every layer of the description
(type, settings, inputs) must be

- its declared operation of its declared inputs' published values, recomputed here in float64 with
  torch.nn.functional from the description alone, not the builder's code;
- the model's own value at that statement of forward() (forward_tapped, no tracing);
- for maps, its receptive field (rows and columns): for a middle cell, its neighbour and the corners,
  the rows and columns the cell depends on are the rectangle of input pixels autograd finds, and the
  field's size, jump and start give that rectangle wherever it lies inside the image.

A failure names the seed and prints the model's source; the refusals are counted by reason. Every
type of builder.operations' table must be drawn among the seeds, so a new operation gets here.

    .venv/bin/python -m pytest tests/test_generated_models.py -s     # -s prints the counts
"""
import time
from collections import Counter

import pytest
import torch

from builder import graph, network
from builder.errors import BuildError
from builder.operations import OPERATIONS, SUPPORTED, spelling
from generated_models import ADDS, CATS, FLATTENS, MEANS, generate, instantiate
import oracle
from oracle import box_of, rectangle, rows_and_cols

MODELS = 300
SEEDS = range(MODELS)
FIELDS = Counter()  # how many cells' fields were checked to be exactly what autograd finds


class Disagrees(AssertionError):
    pass


def declared(layer, inputs, module):
    """A layer's operation, worked out from its type and settings with torch.nn.functional in float64."""
    weights = {name: tensor.detach().double() for name, tensor in
               [*module.named_parameters(), *module.named_buffers()]} if module is not None else {}
    return oracle.declared(layer.type, layer.settings, inputs, weights)


def close(expected, actual, what):
    scale = max(1.0, float(expected.abs().max()))
    error = float((expected - actual.double()).abs().max()) if expected.shape == actual.shape else float("inf")
    if not error <= 1e-4 * scale:
        raise Disagrees(f"{what}: off by {error:.3g} (scale {scale:.3g}), shapes {tuple(expected.shape)} and "
                        f"{tuple(actual.shape)}")


def own_values(model, x):
    """The model's own value after each statement of forward(), copied when it is made."""
    values = []
    with torch.no_grad():
        logits = model.forward_tapped(x.clone(), lambda i, value: values.append(value.detach().clone()))
    return values, logits


def randomise(model, seed):
    """Batch norms with running statistics of their own, as after training."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) and module.track_running_stats:
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.randn(module.num_features, generator=generator))
                    module.bias.copy_(torch.randn(module.num_features, generator=generator))


def depends_on(code, input_shape, steps):
    """(statement i, [(row, col)]) → that statement's cells' masks of the input pixels, by autograd
    through a probe of the model: max pools averaging the same windows, nothing in place, every
    weight positive and the input all ones, so no path is cut (tests/oracle.py's depends_on)."""
    probe = instantiate(code, probe=True)().double().eval()
    with torch.no_grad():
        for module in probe.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.fill_(1 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.fill_(0.01)
            if isinstance(module, torch.nn.BatchNorm2d) and module.track_running_stats:
                module.running_mean.zero_(), module.running_var.fill_(1)
                if module.affine:
                    module.weight.fill_(1), module.bias.fill_(0.01)

    def masks(index, cells):
        leaf = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
        found = []

        class Reached(Exception):
            pass

        def tap(i, value):
            if i == index:
                for r, c in cells:
                    (grad,) = torch.autograd.grad(value[0, :, r, c].sum(), leaf, retain_graph=True)
                    found.append((grad[0].abs().sum(0) > 0).numpy())
                raise Reached
        try:
            probe.forward_tapped(leaf * 1, tap)
        except Reached:
            return found
        raise AssertionError(f"statement {index} never ran")
    return masks


def check_fields(layers, code, input_shape, steps):
    """Each map's published field against autograd, at a middle cell, its lower right neighbour and
    the corners: the very rectangle it depends on where the field lies inside the image (no padding
    inside the network is then in its way), else a rectangle holding every pixel it depends on.
    Returns how many maps have no field, and how many cells were checked exactly."""
    masks = depends_on(code, input_shape, steps)
    height, width = input_shape[1:]
    unfielded = exact = 0
    for i, layer in enumerate(layers[1:]):
        if not layer.spatial:
            continue
        if layer.receptive is None:
            unfielded += 1
            continue
        field = dict(size=layer.receptive.size, jump=layer.receptive.jump, start=layer.receptive.start)
        _, rows, cols = layer.shape
        cells = [((rows - 1) // 2, (cols - 1) // 2), (min(rows - 1, rows // 2 + 1), min(cols - 1, cols // 2 + 1)),
                 (0, 0), (rows - 1, cols - 1), (0, cols - 1), (rows - 1, 0)]
        for (r, c), mask in zip(cells, masks(i, cells)):
            box = box_of(field, r, c, height, width)
            first = [start + i * jump for start, i, jump in zip(field["start"], (r, c), field["jump"])]
            inside = min(first) >= 0 and first[0] + field["size"][0] <= height and first[1] + field["size"][1] <= width
            if inside:
                exact += 1
                if not mask.any() or rectangle(mask) != box:
                    raise Disagrees(f"{layer.id} cell ({r}, {c}): published field rows {box[0]}–{box[1]}, columns "
                                    f"{box[2]}–{box[3]}; autograd finds {rectangle(mask) if mask.any() else 'none'}")
            rows, cols = layer.receptive.rows[r], layer.receptive.cols[c]
            if rows is not None and cols is not None and (rectangle(mask) if mask.any() else ()) != ((*rows, *cols) if rows and cols else ()):
                raise Disagrees(f"{layer.id} cell ({r}, {c}): published rows {rows}, columns {cols}; autograd "
                                f"finds {rectangle(mask) if mask.any() else 'none'}")
            seen_rows, seen_cols = rows_and_cols(mask)
            if seen_rows and not (box[0] <= seen_rows[0] and seen_rows[-1] <= box[1]
                                  and box[2] <= seen_cols[0] and seen_cols[-1] <= box[3]):
                raise Disagrees(f"{layer.id} cell ({r}, {c}) depends on pixels outside its published field")
    return unfielded, exact


def check(seed):
    """'explained' or the refusal's reason for the model of `seed`; raises Disagrees where the
    description is not what the model computes."""
    code, steps, input_shape = generate(seed)
    torch.manual_seed(seed)
    model = instantiate(code)()
    randomise(model, seed)
    model.eval()
    due = next((step.refused for step in steps if step.refused), None)
    try:
        traced = graph.trace(model, input_shape, "Generated")
        layers = network.describe(model, traced)
    except BuildError as err:
        if due is None or not all(words in str(err) for words in due):
            raise Disagrees(f"refused {'for another reason than ' + repr(due) if due else 'a model it supports'}: "
                            f"{err}") from None
        return "refused: " + due[-1]
    if due is not None:
        raise Disagrees(f"explained a model it must refuse ({due})")
    if [layer.type for layer in layers[1:]] != [step.type for step in steps]:
        raise Disagrees(f"layers {[layer.type for layer in layers[1:]]}, statements {[s.type for s in steps]}")
    x = torch.randn(2, *input_shape, generator=torch.Generator().manual_seed(seed))
    recorded = graph.run(traced.graph_module, x)  # what the build publishes (builder.activations)
    published = {op.id: recorded[op.node].double() for op in traced.ops}
    own, logits = own_values(model, x)
    close(x.double(), published["input"], "input")
    for layer, value in zip(layers[1:], own):
        close(value.double(), published[layer.id], f"{layer.id} ({layer.type}) against the model's own forward")
        module = model.get_submodule(layer.module) if layer.module else None
        expected = declared(layer, [published[i] for i in layer.inputs], module)
        close(expected, published[layer.id], f"{layer.id} ({layer.type}) against {layer.type} of {layer.inputs}")
    close(logits.double(), published[layers[-1].id], "the logits")
    unfielded, exact = check_fields(layers, code, input_shape, steps)
    FIELDS["exact"] += exact
    return "explained" + (", a map without a receptive field" if unfielded else "")


@pytest.fixture
def one_thread():
    """Torch on one thread while the test runs: on tensors this small, waking a second thread costs
    more than the work (on 2 busy cores the test took 30 s with two threads and 4 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_generated_models_are_explained_truthfully_or_refused(one_thread):
    started, outcomes, failures = time.perf_counter(), Counter(), []
    for seed in SEEDS:
        try:
            outcomes[check(seed)] += 1
        except Exception as err:  # Disagrees, or a crash where a BuildError was due
            failures.append(f"seed {seed}: {type(err).__name__}: {err}\n{generate(seed)[0]}")
    seconds = time.perf_counter() - started
    print(f"\n{MODELS} generated models in {seconds:.1f} s:", dict(outcomes), f"; {FIELDS['exact']} cells' "
          "receptive fields checked exactly")
    assert not failures, f"{len(failures)} of {MODELS} models are not explained truthfully or not refused for " \
        "their reason:\n\n" + "\n\n".join(failures[:5])
    explained = sum(count for outcome, count in outcomes.items() if outcome.startswith("explained"))
    # the grammar draws mostly what the builder supports, so most models check an explanation
    assert explained >= 0.8 * MODELS, f"only {explained} of {MODELS} models explained: {dict(outcomes)}"


def test_the_grammar_draws_every_supported_operation():
    """Every type of builder.operations' table is drawn among the SEEDS' models, so a type added to
    the table without its place in the grammar fails here; and the grammar writes each spelling the
    table lists for the sum, the flatten, the mean and the concatenation."""
    drawn = {step.type for seed in SEEDS for step in generate(seed)[1]}
    assert set(SUPPORTED) <= drawn, f"never generated: {sorted(set(SUPPORTED) - drawn)}"
    for kind, written in (("Add", ADDS), ("Flatten", FLATTENS), ("Mean", MEANS), ("Cat", CATS)):
        assert set(written) == {spelling(text)[0] for text in OPERATIONS[kind].spellings}, kind
