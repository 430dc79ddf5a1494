"""The PNG frames: one per map at native size, at the contract's URLs, coloured by the layer's shared scale."""
import numpy as np
from matplotlib import colormaps
from PIL import Image

from builder.contract import DIVERGING, SEQUENTIAL


def palette(cmap):
    """The colormap's 256 colours as 8-bit RGB, straight from matplotlib."""
    return np.rint(colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(int)


def frame_files(site, site_url, input_id, layer):
    """The PNGs of one layer for one input: one per map, or one for a whole vector."""
    if len(layer["shape"]) == 3:
        return [site / site_url("map", input=input_id, layer=layer["id"], k=k) for k in range(layer["shape"][0])]
    return [site / site_url("vector", input=input_id, layer=layer["id"])]


def test_every_map_is_a_png_at_the_maps_native_size(site, site_url, network_json, input_records):
    """Each input has one PNG per map of every spatial layer, as many pixels as the map has cells."""
    spatial = [layer for layer in network_json["layers"] if len(layer["shape"]) == 3]
    assert {tuple(layer["shape"][1:]) for layer in spatial} == {(28, 28), (14, 14), (7, 7)}
    for record in input_records:
        for layer in spatial:
            channels, height, width = layer["shape"]
            assert not (site / site_url("map", input=record["id"], layer=layer["id"], k=channels)).exists(), \
                "one PNG per map"
            for path in frame_files(site, site_url, record["id"], layer):
                with Image.open(path) as image:
                    assert image.format == "PNG" and image.size == (width, height), path


def test_layers_with_negative_values_diverge_and_the_others_are_sequential(network_json, contract, input_records):
    """A layer that goes below 0 for some input gets the diverging map centred on 0, else the sequential one."""
    by_id = {layer["id"]: layer for layer in network_json["layers"]}
    for layer_id, layer in by_id.items():
        if layer_id == "input":
            continue
        low = min(r["layers"][layer_id]["min"] for r in input_records)
        high = max(max(abs(r["layers"][layer_id]["min"]), r["layers"][layer_id]["max"]) for r in input_records)
        scale = contract["scales"][layer_id]
        if low < 0:
            assert scale["cmap"] == DIVERGING and scale["vmin"] == -scale["vmax"], layer_id
        else:
            assert scale["cmap"] == SEQUENTIAL and scale["vmin"] == 0, layer_id
        assert np.isclose(scale["vmax"], high, rtol=1e-3), f"{layer_id}: one scale spans every input"
    assert {i for i in by_id if contract["scales"][i]["cmap"] == DIVERGING} >= {"conv1", "conv2", "fc1", "fc2"}
    for layer_id in ("relu1", "relu2", "relu3", "pool1", "pool2"):
        assert contract["scales"][layer_id]["cmap"] == SEQUENTIAL, layer_id


def test_each_pixel_has_the_colour_of_its_value(site, site_url, network_json, contract, input_records):
    """Decoding any frame gives, pixel by pixel, the colormap colour of the JSON value (±2 palette steps)."""
    wrong = []
    for layer in network_json["layers"]:
        scale = contract["scales"][layer["id"]]
        colours = palette(scale["cmap"])
        rows_cols = layer["shape"][1:] if len(layer["shape"]) == 3 else layer["grid"]
        for record in input_records:
            values = np.asarray(record["layers"][layer["id"]]["values"]).reshape(-1, *rows_cols)
            for path, grid in zip(frame_files(site, site_url, record["id"], layer), values):
                with Image.open(path) as image:
                    rgb = np.asarray(image.convert("RGB"), dtype=int).reshape(-1, 3)
                if rgb.shape[0] != grid.size:
                    wrong.append(f"{path}: {rgb.shape[0]} pixels for {grid.size} values")
                    continue
                step = np.rint((grid.ravel() - scale["vmin"]) / (scale["vmax"] - scale["vmin"]) * 255)
                near = np.clip(step.astype(int)[:, None] + np.arange(-2, 3), 0, 255)
                matches = (colours[near] == rgb[:, None, :]).all(axis=2).any(axis=1)
                if not matches.all():
                    wrong.append(f"{path}: {np.count_nonzero(~matches)} pixels off their value's colour")
    assert not wrong, "\n".join(wrong[:20])
