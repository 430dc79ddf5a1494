"""The command line: layerwise build | serve | train | bench (or python -m builder …)

    layerwise build [--content content] [--out site] [--strict] [--debug]
    layerwise serve [--port 8000] [--host 127.0.0.1]
    layerwise bench [--train]
    layerwise train [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt] [--epochs N]
                    [--dataset FOLDER|NAME|module:Class] [--data-root DIR] [--augment flip,crop,erase]
                    [--device auto|cpu|cuda]
    layerwise confusion [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt]
    layerwise examples [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt] [--data-root DIR]

Problems in the author's input print as one line, `file:line: what; how to fix`,
and exit with status 1; --debug shows the traceback as well.
"""
import argparse
import sys
from pathlib import Path

from builder.errors import BuildError


DEVICE_HELP = "where the network runs: auto (a GPU where torch finds one), cpu, cuda, cuda:1 … (default: auto)"


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except BuildError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _build(args):
    from builder.build import build
    result = build(args.content, args.out, strict=args.strict, train=args.train, data_dir=args.data)
    print(f"built {result.out}/ with {len(result.figures)} figures in {result.seconds:.1f} s"
          + (f", {len(result.warnings)} warning(s)" if result.warnings else ""))
    return 0


def _serve(args):
    from builder.serve import serve
    serve(args.content, args.out, host=args.host, port=args.port, prefix=args.prefix, strict=args.strict,
          train=args.train, data_dir=args.data)
    return 0


def _bench(args):
    from builder import bench
    bench.run(args.content, train=args.train, data_dir=args.data)
    return 0


def _train(args):
    from builder import training
    from builder.content import metrics_path
    from model import data
    for flag in ("epochs", "max_steps", "train_subset"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise BuildError(f"--{flag.replace('_', '-')} must be a whole number above 0, not {getattr(args, flag)}")
    options = {k: v for k, v in dict(epochs=args.epochs, max_steps=args.max_steps, seed=args.seed,
                                     train_subset=args.train_subset, augment=args.augment).items() if v is not None}
    try:
        training.train(args.model, args.checkpoint, metrics_path(args.checkpoint, args.metrics), data_dir=args.data,
                       dataset=args.dataset, device=args.device, **options)
    except data.DataNotFound as err:
        raise BuildError(str(err)) from None
    return 0


def _device(name):
    """The --device name, refused in one line when torch has no such device."""
    from model import train
    try:
        train.device_for(name)
    except ValueError as err:
        raise BuildError(str(err)) from None
    return name


def _augmentations(text):
    return () if text.strip() == "none" else tuple(part.strip() for part in text.split(",") if part.strip())


def _confusion(args):
    from builder import companions
    from builder.content import metrics_path
    print(companions.write_confusion(args.model, args.checkpoint, metrics_path(args.checkpoint, args.metrics),
                                     args.data, _device(args.device)))
    return 0


def _examples(args):
    from builder import companions
    from builder.content import metrics_path
    print(companions.write_examples(args.model, args.checkpoint, metrics_path(args.checkpoint, args.metrics),
                                    args.data, _device(args.device)))
    return 0


def _parser():
    prog = "layerwise" if Path(sys.argv[0]).name == "layerwise" else "python -m builder"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name, run, help):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        sub.add_argument("--debug", action="store_true", help="show the traceback of an error")
        sub.add_argument("--data-root", "--data", dest="data", metavar="DIR",
                         help="where torchvision datasets are kept (FashionMNIST: holds FashionMNIST/raw/)")
        return sub

    build = command("build", _build, "build the site from the content folder")
    build.add_argument("--content", default="content", metavar="DIR", help="the article's folder (default: content)")
    build.add_argument("--out", default="site", metavar="DIR", help="where the site goes (default: site)")
    build.add_argument("--strict", action="store_true", help="treat warnings as errors, all listed at the end")
    build.add_argument("--train", action="store_true", help="train the checkpoint first if it does not exist")

    serve = command("serve", _serve, "build, serve on localhost, rebuild and reload the page on every change")
    serve.add_argument("--content", default="content", metavar="DIR", help="the article's folder (default: content)")
    serve.add_argument("--out", default="site", metavar="DIR", help="where the site goes (default: site)")
    serve.add_argument("--strict", action="store_true", help="treat warnings as errors")
    serve.add_argument("--train", action="store_true", help="train the checkpoint first if it does not exist")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    serve.add_argument("--prefix", metavar="NAME",
                       help="serve under /NAME/, as GitHub Pages does (default: this folder's name)")

    bench = command("bench", _bench, "measure build, page and training figures and print them as a table")
    bench.add_argument("--content", default="content", metavar="DIR", help="the article's folder (default: content)")
    bench.add_argument("--train", action="store_true", help="also retrain from scratch (about 2 minutes)")

    train = command("train", _train, "train the network and write its checkpoint and metrics")
    train.add_argument("--model", default="model.cnn:FashionCNN", metavar="MODULE:CLASS")
    train.add_argument("--checkpoint", default="model/cnn.pt", metavar="FILE")
    train.add_argument("--metrics", metavar="FILE", help="default: the checkpoint's name with .json")
    train.add_argument("--epochs", type=int)
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    train.add_argument("--train-subset", type=int, metavar="N", help="train on N of the training images only (FashionMNIST's first N; spread over a folder's classes)")
    train.add_argument("--seed", type=int)
    train.add_argument("--dataset", metavar="SPEC", help="a folder holding train/<class>/* and test/<class>/*, a "
                       "torchvision dataset's name (MNIST, CIFAR10, …) or your own class as module:Class "
                       "(default: FashionMNIST)")
    train.add_argument("--augment", type=_augmentations, metavar="LIST",
                       help="augmentations, of flip, crop, erase, comma-separated; 'none' for none (default: all "
                            "three for FashionMNIST, none for other data)")
    train.add_argument("--device", default="auto", help=DEVICE_HELP)
    kept = command("confusion", _confusion, "keep the test images behind each cell of the confusion matrix "
                   "beside the checkpoint (needs the dataset)")
    kept.add_argument("--model", default="model.cnn:FashionCNN", metavar="MODULE:CLASS")
    kept.add_argument("--checkpoint", default="model/cnn.pt", metavar="FILE")
    kept.add_argument("--metrics", metavar="FILE", help="default: the checkpoint's name with .json")
    kept.add_argument("--device", default="auto", help=DEVICE_HELP)
    found = command("examples", _examples, "find the test images that excite each channel and unit most and "
                    "keep them beside the checkpoint (needs the dataset)")
    found.add_argument("--model", default="model.cnn:FashionCNN", metavar="MODULE:CLASS")
    found.add_argument("--checkpoint", default="model/cnn.pt", metavar="FILE")
    found.add_argument("--metrics", metavar="FILE", help="default: the checkpoint's name with .json")
    found.add_argument("--device", default="auto", help=DEVICE_HELP)
    return parser


if __name__ == "__main__":
    sys.exit(main())
