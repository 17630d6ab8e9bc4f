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
        problem = self.problem if self.problem.endswith(".") else f"{self.problem}."  # one full stop
        fix = f" {self.fix}" if self.fix else ""
        return f"{where}{problem}{fix}"


def check_complete(path, what: str, got: float, promised: float, unit: str, slack: float) -> None:
    """A file whose header promises more than its body holds was cut short (a download or copy that
    stopped): FFmpeg and libsndfile read the part that is there without an error, so this is checked
    here, where the container states the length exactly (`promised` > 0). `slack` (in `unit`, or 2 %
    if more) allows for encoder padding. Both figures are compared and shown to 2 decimals."""
    got, promised = round(got, 2), round(promised, 2)
    if promised > 0 and got < promised - max(slack, 0.02 * promised):
        raise InputError(path, f"is cut short: its header promises {promised:g} {unit} of {what}, only "
                               f"{got:g} {'is' if got == 1 else 'are'} in the file",
                         "Copy it again from its source; to use the part that is there, rewrite it first "
                         f"(`ffmpeg -i IN -c copy OUT{Path(path).suffix}`).")
