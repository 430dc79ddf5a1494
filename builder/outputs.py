"""What the network's last operation gives, named once: logits, probabilities, log-probabilities or
independent sigmoid scores.

The kind follows from the last layer's canonical type (builder.graph puts a
softmax into its canonical form and refuses one it cannot name: over another
axis, or anywhere but at the end). The build publishes the kind and its words
in the contract (builder.contract.OUTPUTS), so the page reads them and
repeats none of this.

    kind(layers)                       -> "logits" | "probabilities" | "log_probabilities" | "scores"
    probabilities(kind, outputs)       -> the classes' probabilities (N, classes), or None for scores
"""

# The last layer's type → what its values are; any other last layer gives logits.
LAST = {"Softmax": "probabilities", "LogSoftmax": "log_probabilities", "Sigmoid": "scores"}
# Operations whose values mean something only as the model's output, over the classes.
ONLY_LAST = ("Softmax", "LogSoftmax")


def kind(layers):
    """What the last of `layers` (builder.layers.Layer or graph.Op) gives."""
    return LAST.get(layers[-1].type, "logits")


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
