"""builder.network finds the layers, their shapes and receptive fields in the model itself."""
import json
from collections import OrderedDict

import pytest
import torch
from torch import nn

from builder import network
from builder.build import build
from conftest import urls_of
from model.cnn import FashionCNN
from oracle import depends_on, field_geometry, rows_and_cols


def deeper_cnn():
    """FashionCNN with one more convolution (and its ReLU) after pool2."""
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 16, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(16, 32, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        conv3=nn.Conv2d(32, 8, 3, padding=1), relu4=nn.ReLU(),
        flatten=nn.Flatten(), fc1=nn.Linear(8 * 7 * 7, 10)))


class DeeperCNN(nn.Sequential):
    """deeper_cnn() as a class, for a front matter's `model: test_network:DeeperCNN`."""

    classes = FashionCNN.classes

    def __init__(self):
        super().__init__(OrderedDict(deeper_cnn().named_children()))


def strided_cnn():
    """Strides, dilation, padded pooling and an average pool: every term of the recurrence matters."""
    return nn.Sequential(OrderedDict(
        wide=nn.Conv2d(1, 4, 5, stride=2, padding=2), relu=nn.ReLU(),
        dilated=nn.Conv2d(4, 4, 3, padding=2, dilation=2),
        smooth=nn.AvgPool2d(3, stride=1), pool=nn.MaxPool2d(2, stride=2, padding=1)))


def test_fashion_cnn_layers_are_its_children_with_their_shapes():
    """describe(FashionCNN) lists input and every child, in order, with each output's shape."""
    layers = network.describe(FashionCNN())
    assert [(layer.id, layer.shape) for layer in layers] == [
        ("input", (1, 28, 28)), ("conv1", (16, 28, 28)), ("relu1", (16, 28, 28)), ("pool1", (16, 14, 14)),
        ("conv2", (32, 14, 14)), ("relu2", (32, 14, 14)), ("pool2", (32, 7, 7)), ("flatten", (1568,)),
        ("fc1", (128,)), ("relu3", (128,)), ("fc2", (10,))]
    assert sum(layer.params for layer in layers) == sum(p.numel() for p in FashionCNN().parameters())


def test_an_extra_conv_layer_is_discovered():
    """A model with one more conv layer gets one more layer, with its real output shape and parameters."""
    model = deeper_cnn()
    layers = network.describe(model)
    assert [layer.id for layer in layers] == ["input"] + [name for name, _ in model.named_children()]
    conv3 = next(layer for layer in layers if layer.id == "conv3")
    assert conv3.type == "Conv2d"
    assert conv3.shape == tuple(model[:7](torch.zeros(1, 1, 28, 28)).shape[1:]) == (8, 7, 7)
    assert conv3.params == 32 * 8 * 3 * 3 + 8


@pytest.mark.parametrize("make", [FashionCNN, deeper_cnn, strided_cnn])
def test_receptive_fields_match_autograd(make):
    """Each spatial layer's ReceptiveField (size, jump, start) equals what autograd measures in the middle of the map."""
    torch.manual_seed(0)
    model = make()
    mask_of = depends_on(model, input_shape=(1, 28, 28))
    for layer in network.describe(model)[1:]:
        if layer.spatial:
            field = layer.receptive
            measured = field_geometry(mask_of, layer.id, layer.shape[1])
            assert (field.size, field.jump, field.start) == tuple((m, m) for m in measured), layer.id


@pytest.mark.parametrize("make", [FashionCNN, deeper_cnn])
def test_receptive_fields_are_clipped_to_the_image_at_the_edges(make):
    """Along the whole diagonal, cell i sees input rows [start + i·jump, + size) clipped to the image."""
    torch.manual_seed(0)
    model = make()
    mask_of = depends_on(model, input_shape=(1, 28, 28))
    for layer in network.describe(model)[1:]:
        if layer.spatial:
            field = layer.receptive
            for i in range(layer.shape[1]):
                first = field.start[0] + i * field.jump[0]
                expected = list(range(max(0, first), min(28, first + field.size[0])))
                assert rows_and_cols(mask_of(layer.id, i, i))[0] == expected, (layer.id, i)


def test_a_model_with_an_extra_conv_layer_builds_its_figure_and_frames(make_content, tmp_path):
    """The whole build shows a layer only the model knows about: figure, data and one PNG per map."""
    torch.manual_seed(0)
    checkpoint = tmp_path / "deeper" / "cnn.pt"
    checkpoint.parent.mkdir()
    torch.save(DeeperCNN().state_dict(), checkpoint)
    checkpoint.with_suffix(".json").write_text(json.dumps(dict(
        normalisation=dict(mean=0.286, std=0.353), test_accuracy=0.1, test_images=10000,
        hyperparameters=dict(train_images=60000))))
    article = make_content("![The third convolution](layer:conv3)\n", front=["model: test_network:DeeperCNN"],
                           checkpoint=checkpoint)

    build(article.parent, tmp_path / "site", log=lambda message: None)

    site = tmp_path / "site"
    html = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="fig-conv3"' in html
    url = urls_of(site)
    [summary] = json.loads((site / url("inputs")).read_text())
    record = json.loads((site / url("record", input=summary["id"])).read_text())
    assert list(record["layers"]) == ["input"] + [name for name, _ in DeeperCNN().named_children()]
    assert record["layers"]["conv3"]["shape"] == [8, 7, 7]
    maps = [site / url("map", input=record["id"], layer="conv3", k=k) for k in range(9)]
    assert [path.is_file() for path in maps] == [True] * 8 + [False]
