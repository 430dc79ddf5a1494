"""Generate the files the page reads: frames, data files, charts and the contract.

    frames/   PNGs of every map, vector, filter and colour scale (builder.frames)
    data/     every layer's numbers, the network and the contract (builder.datafiles, builder.contract),
              the test images behind the confusion matrix (builder.confusion), every test image
              (builder.testset),
              each pixel's share of each class's score (builder.attributions)
    charts/   the training record as SVG (builder.charts)
    data/training.json, data/snapshots/  the network at moments of its training (builder.snapshots)
    examples/ the test images that excite each channel and unit most (builder.examples)
    featurevis/ an image made to excite each convolution channel (builder.featurevis)

This is the only stage that runs the network, so the only one that needs
PyTorch and matplotlib; the build calls it when its cache has no folder for
these weights and inputs.
"""
from builder import (activations, attributions, charts, companions, confusion, contract, datafiles, examples,
                     featurevis, frames, learning, snapshots, testset)


def generate(folder, network, chosen, data_dir=None):
    """Run `chosen` inputs through `network` and write everything derived from them into `folder`;
    the test images are read from the dataset (under `data_dir`, as model.data finds it)."""
    kept = companions.load(network.description)  # first: a file made for other weights stops the build at once
    examples.publish(folder, network, kept.examples)
    snapshots.write(folder, network, kept.snapshots)  # the network at moments of its training
    learning.write(folder, network, kept.snapshots)   # and its filters at those moments
    featurevis.publish(folder, network, kept.examples)
    traces = activations.compute(network, chosen)
    scales = frames.scales(network, traces)
    frames.write(folder, network, traces, scales)
    datafiles.write(folder, network, traces)
    attributions.write(folder, network, chosen, traces)
    charts.write(folder, charts.draw(network.metrics, network.classes))
    confusion.write(folder, kept.confusion, network.classes)
    tests = testset.write(folder, testset.read_split(network.dataset, data_dir), network.dataset["input_shape"])
    contract.write(folder, scales, frames.palettes(scales), network.output, network.dataset, tests)
