"""The errors the run-folder reader raises."""

from __future__ import annotations

from pathlib import Path


class RunFolderError(Exception):
    """A run folder cannot be read as cavern wrote it; the message names the file and what is wrong."""


class MissingFileError(RunFolderError, FileNotFoundError):
    """A file the run folder should hold is not there; `path` is the file that was looked for."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownNameError(RunFolderError, KeyError):
    """A table or CAV name the run does not have; the message lists the names it does have."""

    def __str__(self) -> str:
        # KeyError would print the repr of its argument, quotes and all.
        return str(self.args[0])
