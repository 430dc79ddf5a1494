"""What the network's last operation gives, named once: logits, probabilities, log-probabilities or
independent sigmoid scores.

The kind follows from the canonical type of the last layer that changes values:
a flatten or a dropout (evaluating) after it passes its values on as they are,
so `torch.sigmoid(x).flatten(1)` gives sigmoid scores (builder.graph puts a
softmax into its canonical form and refuses one it cannot name: over another
axis, or anywhere but at the end). The build publishes the kind and its words
in the contract (builder.contract.OUTPUTS), so the page reads them and
repeats none of this.

    kind(layers)                       -> "logits" | "probabilities" | "log_probabilities" | "scores"
    naming(layers)                     -> the layer whose type says which
    trained_on(layers, spec)           -> kind(layers), for the training loss, or a refusal
    probabilities(kind, outputs)       -> the classes' probabilities (N, classes), or None for scores
"""

from builder.errors import BuildError
from builder.operations import OPERATIONS

# The naming layer's type → what the output's values are; any other gives logits.
LAST = {"Softmax": "probabilities", "LogSoftmax": "log_probabilities", "Sigmoid": "scores"}
# Operations whose values mean something only as the model's output, over the classes.
ONLY_LAST = tuple(kind for kind, operation in OPERATIONS.items() if operation.only_last)
# Operations whose output holds the values of their one input: a flatten in another shape, a dropout
# (which drops nothing when evaluating) or an identity as they were.
SAME_VALUES = tuple(kind for kind, operation in OPERATIONS.items() if operation.same_values)
DROPS = ("Dropout", "Dropout2d")  # operations that drop values while training, and scale up the rest


def naming(layers):
    """The last of `layers` (builder.layers.Layer or graph.Op) that changes values: the last layer,
    or the one whose values the trailing SAME_VALUES operations pass on to the output."""
    by_id = {layer.id: layer for layer in layers}
    layer = layers[-1]
    while layer.type in SAME_VALUES:
        layer = by_id[layer.inputs[0]]
    return layer


def kind(layers):
    """What the output of `layers` gives: what the naming() layer makes."""
    return LAST.get(naming(layers).type, "logits")


def trained_on(layers, spec, where=(None, None)):
    """kind(layers), which decides the training loss (model.train.loss_of); refused when a dropout
    follows probabilities or sigmoid scores: while training it scales them past 1, so no loss on
    them is the one the model is explained with."""
    found = kind(layers)
    trailing = layers[[layer.id for layer in layers].index(naming(layers).id) + 1:]
    if found in ("probabilities", "scores") and any(layer.type in DROPS for layer in trailing):
        raise BuildError(f"{spec} drops values out of its {found.replace('_', '-')} while training, which "
                         "scales them past 1; put the dropout before the last layer, or end in logits", *where)
    return found


def probabilities(kind, outputs):
    """The classes' probabilities from the last layer's outputs (a float32 torch tensor, one row an
    input): the softmax of logits, the probabilities themselves, the exp of log-probabilities;
    None for sigmoid scores, which are each class's own and do not add up to one."""
    if kind == "logits":
        return outputs.softmax(dim=1)
    if kind == "probabilities":
        return outputs
    if kind == "log_probabilities":
        return outputs.exp()
    return None
