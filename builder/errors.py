"""The one exception a build stops with, worded for the person who can fix it."""


class BuildError(Exception):
    """A problem in the author's input: `path:line: what is wrong; how to fix it`."""

    def __init__(self, message, path=None, line=None):
        super().__init__(message)
        self.message, self.path, self.line = message, path, line

    def __str__(self):
        where = "" if self.path is None else f"{self.path}:" if self.line is None else f"{self.path}:{self.line}:"
        return f"{where} {self.message}" if where else self.message


class Problems:
    """Warnings gathered during a build; `--strict` turns them into one error at the end."""

    def __init__(self):
        self.warnings = []
        self.links = {}  # URL → (file, line) where the author first wrote it

    def wrote_link(self, url, path, line):
        """Remember where a link is written, for a problem found later in the built page."""
        self.links.setdefault(url, (path, line))

    def warn(self, message, path=None, line=None):
        """Keep a warning; one about a link (builder.checks.Broken) names where the author wrote it."""
        if line is None and getattr(message, "url", None) in self.links:
            path, line = self.links[message.url]
        self.warnings.append(BuildError(message, path, line))

    def __iter__(self):
        return iter(self.warnings)
