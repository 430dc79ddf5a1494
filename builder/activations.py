"""Run the inputs through the network once and keep every layer's output.

Forward hooks on the model's children record each output as it passes, so
what the article shows is exactly what the model computed.
"""
from dataclasses import dataclass

import numpy as np
import torch

from model.data import as_input


@dataclass
class Trace:
    """Everything one input did inside the network."""
    input: object            # builder.inputs.Input
    values: dict             # layer id → float32 array of the layer's shape, input first
    probabilities: np.ndarray
    predicted: int


def compute(network, inputs):
    """Return one Trace per input, layers in the model's order."""
    x = as_input(np.stack([i.pixels for i in inputs]), **network.normalisation)
    outputs = {"input": x}
    hooks = [child.register_forward_hook(_recorder(outputs, name))
             for name, child in network.model.named_children()]
    try:
        with torch.no_grad():
            logits = network.model.eval()(x)
    finally:
        for hook in hooks:
            hook.remove()
    probabilities = torch.softmax(logits, dim=1).numpy()
    return [Trace(inp, {layer: out[n].numpy() for layer, out in outputs.items()},
                  probabilities[n], int(probabilities[n].argmax()))
            for n, inp in enumerate(inputs)]


def _recorder(outputs, name):
    def record(module, args, output):
        outputs[name] = output.detach().clone()  # clone: a later in-place layer must not change it
    return record
