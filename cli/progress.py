"""How far long work has got, for a person watching a terminal: one line on stderr, redrawn in place.

Shown only when stderr is a terminal and JSON was not asked for, so a pipe, a file, a log collector or
a program reading `--json` never sees it; it is cleared before the command's own output follows."""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import typer

from cli.exits import json_requested

# Redrawing more often than this only costs time: no one reads faster.
REDRAW_SECONDS = 0.1
CLEAR_LINE = "\r\x1b[K"


class Progress:
    """A count of things done (or a line of our own words): never personal data or stored text."""

    def __init__(self, what: str, terminal: TextIO | None) -> None:
        self.what = what
        self.done = 0
        self._terminal = terminal
        self._shown = ""
        self._drawn_at = float("-inf")

    @property
    def visible(self) -> bool:
        return self._terminal is not None

    def tick(self, _item: object = None) -> None:
        """One more done; the argument lets it be the per-item callback the store and service take."""
        self.done += 1
        self.show(f"{self.what}: {self.done}")

    def show(self, text: str) -> None:
        if self._terminal is None:
            return
        self._shown = text
        now = time.monotonic()
        if now - self._drawn_at >= REDRAW_SECONDS:
            self._drawn_at = now
            self._terminal.write(CLEAR_LINE + text)
            self._terminal.flush()

    def echo(self, line: str) -> None:
        """A line of the command's own output on stdout, with the progress line kept below it."""
        self.clear()
        typer.echo(line)
        if self._shown:
            self._drawn_at = float("-inf")
            self.show(self._shown)

    def clear(self) -> None:
        if self._terminal is not None and self._shown:
            self._terminal.write(CLEAR_LINE)
            self._terminal.flush()


@contextmanager
def progress(what: str) -> Iterator[Progress]:
    """Progress of `what` ("cases verified"), cleared when the work ends however it ends."""
    terminal = sys.stderr if sys.stderr.isatty() and not json_requested() else None
    shown = Progress(what, terminal)
    try:
        yield shown
    finally:
        shown.clear()
