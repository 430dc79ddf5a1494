"""Read the article: its YAML front matter (the settings) and its Markdown body.

Every key the front matter may hold is a field of `Settings`, with its
default; an unknown key stops the build and lists the known ones.
"""
import importlib.util
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from builder.errors import BuildError

ARTICLE = "article.md"


def model_folder(spec):
    """The folder holding the source of the model named 'module:Class', found without importing
    the module itself (so without PyTorch); None when the module cannot be found."""
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        found = importlib.util.find_spec(spec.partition(":")[0])
    except (ImportError, ValueError):
        return None
    return Path(found.origin).parent if found and found.origin else None


def metrics_path(checkpoint, given=""):
    """The training metrics that go with a checkpoint: `given`, or the .json of the same name beside
    it (model/cnn.pt → model/cnn.json), so each checkpoint has its own."""
    return Path(given) if given else Path(checkpoint).with_suffix(".json")


@dataclass
class Settings:
    """What an author can set at the top of content/article.md."""
    title: str = "Inside a convolutional network, layer by layer"
    description: str = ""
    author: str = ""
    lang: str = "en"
    model: str = "model.cnn:FashionCNN"   # module:Class, importable from the project root
    checkpoint: str = "model/cnn.pt"      # state_dict, relative to the project root
    metrics: str = ""                     # training metrics; default: the checkpoint's name with .json
    dataset: str = ""                     # what the checkpoint learned from, as its metrics name it; checked
    inputs: list = field(default_factory=list)  # [] means every image in content/inputs/
    theme: str = "default"                # a folder of themes/, or a path to one


@dataclass
class Article:
    path: Path
    settings: Settings
    body: str
    body_line: int  # line of the file on which the body starts (1-based)
    key_lines: dict  # front matter key → its line, to point at a bad value later

    def line_of(self, key):
        return self.key_lines.get(key)


def load(content_dir):
    """Read and check content_dir/article.md."""
    return read(Path(content_dir) / ARTICLE, Settings)


def read(path, kind):
    """Read and check a Markdown file whose YAML front matter sets the fields of the dataclass `kind`."""
    front, body, body_line = _split_front_matter(read_text(path), path)
    settings, key_lines = _settings(front, path, kind)
    return Article(path, settings, body, body_line, key_lines)


def read_text(path):
    """Return a file's text, or stop with a message a person can act on."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise BuildError("file not found; create it or pass --content DIR", path) from None
    except OSError as err:
        raise BuildError(f"cannot read: {err.strerror}", path) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise BuildError(f"not valid UTF-8 (byte 0x{raw[err.start]:02x}); save the file as UTF-8",
                         path, line) from None


def _split_front_matter(text, path):
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return "", text, 1
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]), i + 2
    raise BuildError("front matter opened with '---' on line 1 is never closed; add a line '---' after it",
                     path, 1)


def _settings(front, path, kind):
    """Parse the front matter into (kind, key → line), naming the line of any mistake."""
    try:
        loader = yaml.SafeLoader(front)
        node = loader.get_single_node()  # the node keeps each key's line; the values come from it
        values = loader.construct_document(node) if node else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 2 if mark else 1  # +1 for 1-based, +1 for the opening '---'
        problem = getattr(err, "problem", None) or str(err)
        raise BuildError(f"front matter is not valid YAML ({problem}); check the indentation and quoting",
                         path, line) from None
    if values is None:
        return kind(), {}
    if not isinstance(values, dict):
        raise BuildError("front matter must be 'key: value' lines", path, 2)
    known = {f.name: type(getattr(kind(), f.name)) for f in fields(kind)}
    lines = {}
    for key, _ in node.value:
        if key.value in lines:
            raise BuildError(f"front matter key '{key.value}' is given twice (lines {lines[key.value]} and "
                             f"{key.start_mark.line + 2}); keep one", path, key.start_mark.line + 2)
        lines[key.value] = key.start_mark.line + 2
    for key, value in values.items():
        if key not in known:
            raise BuildError(f"unknown front matter key '{key}' (known: {', '.join(known)})",
                             path, lines.get(key))
        if not isinstance(value, known[key]):
            raise BuildError(f"front matter key '{key}' must be a {'list' if known[key] is list else 'string'}",
                             path, lines.get(key))
    return kind(**values), lines
