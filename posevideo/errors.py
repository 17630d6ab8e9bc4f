"""Errors a user can act on. The CLI prints them as one line; anything else is a bug."""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A problem with something the user gave us: names the file, what is wrong and what to do."""

    def __init__(self, path: str | Path | None, problem: str, fix: str = ""):
        self.path = None if path is None else str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        fix = f" {self.fix}" if self.fix else ""
        return f"{where}{self.problem}.{fix}".replace("..", ".")
