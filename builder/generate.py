"""Generate the files the page reads: frames, data files, charts and the contract.

    frames/   PNGs of every map, vector, filter and colour scale (builder.frames)
    data/     every layer's numbers, the network and the contract (builder.datafiles, builder.contract)
    charts/   the training record as SVG (builder.charts)

This is the only stage that runs the network, so the only one that needs
PyTorch and matplotlib; the build calls it when its cache has no folder for
these weights and inputs.
"""
from builder import activations, charts, contract, datafiles, frames


def generate(folder, network, chosen):
    """Run `chosen` inputs through `network` and write everything derived from them into `folder`."""
    traces = activations.compute(network, chosen)
    scales = frames.scales(network, traces)
    frames.write(folder, network, traces, scales)
    datafiles.write(folder, network, traces)
    charts.write(folder, charts.draw(network.metrics, network.classes))
    contract.write(folder, scales, frames.palettes(scales))
