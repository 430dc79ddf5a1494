"""Run the inputs through the network once and keep every layer's output.

The traced graph (builder.graph) runs node by node and each node's output is
recorded as it passes, so what the article shows is exactly what the model
computed, functional calls and residual sums included.
"""
from dataclasses import dataclass

import numpy as np

from builder import graph, outputs as output_kinds
from model.data import as_input


@dataclass
class Trace:
    """Everything one input did inside the network."""
    input: object            # builder.inputs.Input
    values: dict             # layer id → float32 array of the layer's shape, input first
    probabilities: np.ndarray  # None for sigmoid scores (builder.outputs)
    predicted: int


def compute(network, inputs):
    """Return one Trace per input, layers in the model's order."""
    x = as_input(np.stack([i.pixels for i in inputs]), **network.normalisation)
    outputs = graph.run(network.traced.graph_module, x)
    by_layer = {op.id: outputs[op.node] for op in network.traced.ops}
    last = by_layer[network.layers[-1].id]
    probabilities = output_kinds.probabilities(network.output, last)
    ranked = (last if probabilities is None else probabilities).numpy()  # the prediction: the largest
    return [Trace(inp, {layer: out[n].numpy() for layer, out in by_layer.items()},
                  None if probabilities is None else probabilities[n].numpy(), int(ranked[n].argmax()))
            for n, inp in enumerate(inputs)]
