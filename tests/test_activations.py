"""The numbers the site publishes (data/inputs/<input>.json and .f32) against an independent forward pass.

The oracle (tests/oracle.py) is the article's network written out with torch.nn.functional from
the committed state_dict and its metrics alone, in float64, starting from the input PNG's pixels:
it never calls the model's forward nor any builder code.
"""
import json

import numpy as np
import torch
from PIL import Image

from conftest import CHECKPOINT, METRICS
from model.cnn import FashionCNN
from oracle import FASHION_CNN, forward, normalised


def input_pixels(content, input_id):
    with Image.open(content / "inputs" / f"{input_id}.png") as image:
        assert image.mode == "L" and image.size == (28, 28)
        return np.asarray(image, dtype=np.uint8)


def oracle_for(record, content):
    """Every layer's output for one input, {layer: array}, as the article describes the network."""
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    norm = json.loads(METRICS.read_text())["normalisation"]
    x = normalised(input_pixels(content, record["id"]), norm["mean"], norm["std"])
    return {layer: values[0].numpy() for layer, values in forward(FASHION_CNN, state, x).items()}


def close(published, expected):
    """Published numbers carry 4 significant digits: relative 1e-3, plus a little for values near 0."""
    expected = np.asarray(expected, dtype=np.float64)
    atol = 1e-4 * max(1.0, float(np.abs(expected).max()))
    return np.allclose(np.asarray(published, dtype=np.float64), expected, rtol=1e-3, atol=atol)


def test_layers_are_the_models_children_in_order(input_records):
    """Each data file lists the input and then every child of FashionCNN, in the model's order."""
    children = ["input"] + [name for name, _ in FashionCNN().named_children()]
    for record in input_records:
        assert list(record["layers"]) == children, record["id"]


def test_every_value_of_every_layer_matches_the_oracle(input_records, built):
    """For every input and layer, shape, values, min and max equal the independent forward pass."""
    assert len(input_records) >= 1
    wrong = []
    for record in input_records:
        expected = oracle_for(record, built.content)
        for layer, published in record["layers"].items():
            truth = expected[layer]
            if published["shape"] != list(truth.shape):
                wrong.append(f"{record['id']}/{layer}: shape {published['shape']} != {list(truth.shape)}")
                continue
            if not close(published["values"], truth.ravel()):
                worst = np.abs(np.asarray(published["values"]) - truth.ravel()).max()
                wrong.append(f"{record['id']}/{layer}: values differ by up to {worst:.3g}")
            if not close([published["min"], published["max"]], [truth.min(), truth.max()]):
                wrong.append(f"{record['id']}/{layer}: range {published['min']}..{published['max']} "
                             f"!= {truth.min():.4g}..{truth.max():.4g}")
    assert not wrong, "\n".join(wrong)


def test_the_exact_float32_file_matches_the_oracle_and_the_json(input_records, built):
    """The .f32 file, which the page computes with, is the forward pass to float32 precision,
    and the JSON's values are its four-digit rounding."""
    for record in input_records:
        expected = oracle_for(record, built.content)
        for layer, exact in record["exact"].items():
            truth = expected[layer]
            assert np.allclose(exact, truth, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(truth).max())), \
                f"{record['id']}/{layer}"
            rounded = [float(f"{v:.4g}") for v in exact.astype(np.float32).ravel().tolist()]
            assert record["layers"][layer]["values"] == rounded, f"{record['id']}/{layer}"


def test_prediction_and_probabilities_follow_from_the_logits(input_records, built):
    """predicted is the argmax, probabilities are the softmax of the oracle's logits and sum to 1."""
    for record in input_records:
        logits = torch.from_numpy(oracle_for(record, built.content)["fc2"])
        probabilities = np.asarray(record["probabilities"])
        assert record["predicted"] == int(logits.argmax()) == int(probabilities.argmax()), record["id"]
        assert abs(probabilities.sum() - 1) < 1e-3, record["id"]
        assert np.allclose(probabilities, torch.softmax(logits, 0).numpy(), rtol=1e-3, atol=1e-6), record["id"]
        assert close(record["logits"], logits.numpy()), record["id"]
        assert record["classes"] == list(FashionCNN.classes)


def test_inputs_are_the_named_fashion_mnist_test_images(input_records, built, fashion_test_split):
    """Each exported input PNG holds exactly the dataset's test image it is named after, and its label."""
    named = [r for r in input_records if r["id"].startswith("test-")]
    assert named, "the article's inputs are FashionMNIST test images"
    for record in named:
        index = int(record["id"].removeprefix("test-"))
        assert np.array_equal(input_pixels(built.content, record["id"]),
                              fashion_test_split.images[index].numpy().reshape(28, 28))  # (1, 28, 28): one channel
        assert record["label"] == int(fashion_test_split.labels[index]), record["id"]


def test_picker_offers_the_first_test_image_of_each_class_in_class_order(input_records, fashion_test_split):
    """The article's inputs start, as its front matter says, with the first test image of each class in order."""
    labels = fashion_test_split.labels.numpy()
    firsts = [f"test-{int(np.flatnonzero(labels == c)[0]):05d}" for c in range(len(FashionCNN.classes))]
    assert [r["id"] for r in input_records][:len(firsts)] == firsts
