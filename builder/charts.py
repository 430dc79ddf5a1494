"""Draw the training record (model/cnn.json) as SVG charts with matplotlib.

    charts/training.svg    train loss and test accuracy per epoch

The confusion matrix, also named here as a chart, is drawn by the page as a table
(templates/confusion.html), so that each cell can open its test images.

The SVGs carry no date and stable ids, so two builds write the same bytes.
Colours are mid-tones that read on the light and the dark theme alike.
"""
import io
import re
from pathlib import Path


from builder.contract import url as site_url

INK, LINE, ACCENT = "#7a7a7a", "#1f77b4", "#d95f02"
STYLE = {"svg.hashsalt": "layerwise", "svg.fonttype": "none", "font.size": 10.5,
         "text.color": INK, "axes.labelcolor": INK, "axes.edgecolor": INK,
         "xtick.color": INK, "ytick.color": INK, "axes.facecolor": "none", "figure.facecolor": "none"}


def url(name):
    return site_url("chart", name=name)


def available(metrics):
    """The charts this metrics file can draw, by name."""
    names = []
    if metrics.get("epochs"):
        names.append("training")
    if metrics.get("confusion_matrix"):
        names.append("confusion")
    return names


def draw(metrics, classes):
    """Return {name: SVG text} for every chart the metrics can draw."""
    plt = _pyplot()
    drawn = {}
    for name in (name for name in available(metrics) if name in DRAW):
        with plt.rc_context(STYLE):
            figure = DRAW[name](metrics, classes)
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
            plt.close(figure)
        drawn[name] = buffer.getvalue()
    return drawn


def describe(name, metrics, classes):
    """Alt text: what the chart shows, in numbers, for a reader who cannot see it."""
    if name == "training":  # the confusion matrix is a table of its own (templates/confusion.html)
        losses = [e["train_loss"] for e in metrics["epochs"]]
        accuracies = [e["test_accuracy"] for e in metrics["epochs"]]
        return (f"Two line charts over {len(losses)} epochs: the training loss goes from {losses[0]:.3g} "
                f"to {losses[-1]:.3g}, and the test accuracy from {accuracies[0]:.1%} to {accuracies[-1]:.1%}.")
    raise ValueError(f"no chart named {name!r}")


def size(svg):
    """(width, height) in CSS pixels of a matplotlib SVG, for the <img> that shows it."""
    found = dict(re.findall(r'\b(width|height)="([\d.]+)pt"', svg[:2000]))
    return round(float(found["width"]) * 4 / 3), round(float(found["height"]) * 4 / 3)


def write(site, drawn):
    for name, svg in drawn.items():
        path = Path(site) / url(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")


def _pyplot():
    """matplotlib, imported only when a chart is drawn: a rebuild that finds its charts in the
    cache does not pay for it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _training(metrics, classes):
    plt = _pyplot()
    epochs = [e["epoch"] for e in metrics["epochs"]]
    figure, (loss, accuracy) = plt.subplots(2, 1, figsize=(4.8, 4.6), sharex=True)  # narrow: reads on a phone
    loss.plot(epochs, [e["train_loss"] for e in metrics["epochs"]], color=LINE, marker="o", markersize=3)
    loss.set(title="Training loss", ylabel="cross-entropy")
    accuracy.plot(epochs, [100 * e["test_accuracy"] for e in metrics["epochs"]], color=ACCENT,
                  marker="o", markersize=3)
    accuracy.set(title="Test accuracy", xlabel="epoch", ylabel="% correct")
    for axes in (loss, accuracy):
        axes.spines[["top", "right"]].set_visible(False)
        axes.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    return figure


DRAW = {"training": _training}
