"""Reading content/article.md: front matter mistakes are named with their file and line."""
from dataclasses import fields

import pytest

from builder import content
from builder.errors import BuildError


def load(tmp_path, raw):
    (tmp_path / "article.md").write_bytes(raw.encode() if isinstance(raw, str) else raw)
    return content.load(tmp_path)


def error_of(tmp_path, raw):
    with pytest.raises(BuildError) as error:
        load(tmp_path, raw)
    return error.value


def test_front_matter_becomes_settings_and_body_keeps_its_line(tmp_path):
    """Known keys are read; the body starts on the line after the closing '---'."""
    article = load(tmp_path, "---\ntitle: Shoes\ninputs:\n  - test: 3\n---\nFirst line of the body.\n")
    assert article.settings.title == "Shoes" and article.settings.inputs == [{"test": 3}]
    assert article.body.startswith("First line of the body.") and article.body_line == 6


def test_unknown_key_names_itself_its_line_and_the_known_keys(tmp_path):
    """A misspelt key stops the read with path:line, the key, and every key Settings knows."""
    error = error_of(tmp_path, "---\ntitle: Shoes\n\ncolour: red\n---\nBody.\n")
    known = [f.name for f in fields(content.Settings)]
    path = tmp_path / "article.md"
    assert str(error) == f"{path}:4: unknown front matter key 'colour' (known: {', '.join(known)})"


def test_malformed_yaml_names_its_line(tmp_path):
    """Broken indentation in the front matter is reported on the line where YAML stumbles."""
    error = error_of(tmp_path, "---\ntitle: Shoes\n  description: on two lines\n---\nBody.\n")
    assert str(error).startswith(f"{tmp_path / 'article.md'}:3: front matter is not valid YAML")


def test_file_that_is_not_utf8_names_the_file(tmp_path):
    """A Latin-1 article stops the read naming the file (and the line of the first bad byte)."""
    error = error_of(tmp_path, "---\ntitle: Caf\u00e9\n---\nBody.\n".encode("latin-1"))
    assert str(error).startswith(f"{tmp_path / 'article.md'}:2: ") and "UTF-8" in str(error)
