"""layerwise: build an explainer that walks through a CNN layer by layer, with the model's real numbers."""

__version__ = "0.1.0"
