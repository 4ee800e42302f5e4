"""Progress of a long `manage.py` command, on stderr (stdout keeps the command's result).

On a terminal: one line redrawn in place (`[#####.....] 500/1000 customers  83.2/s`). Elsewhere
(cron, a log collector): a plain line at every tenth of the work, so logs stay readable.

    progress = Progress(total, "customers", stream=self.stderr, enabled=not options["no_progress"])
    for batch in ...:
        ...
        progress.advance(len(batch))
    progress.done()
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import OutputWrapper


class Progress:
    WIDTH = 30

    def __init__(self, total: int, unit: str, *, stream: Any = None, enabled: bool = True) -> None:
        self.total = max(int(total), 0)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.total > 0
        self.count = 0
        self.started = time.monotonic()
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self._next_tenth = 1

    def _emit(self, text: str) -> None:
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")
        else:
            self.stream.write(text)
        self.stream.flush()

    def advance(self, count: int = 1) -> None:
        self.count = min(self.count + count, self.total)
        if not self.enabled:
            return
        rate = self.count / max(time.monotonic() - self.started, 1e-9)
        if self.tty:
            filled = int(self.WIDTH * self.count / self.total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self._emit(f"\r[{bar}] {self.count}/{self.total} {self.unit}  {rate:,.1f}/s")
            return
        while self._next_tenth <= 10 and self.count * 10 >= self._next_tenth * self.total:
            self._emit(f"{self.count}/{self.total} {self.unit} ({self._next_tenth * 10}%, {rate:,.1f}/s)\n")
            self._next_tenth += 1

    def done(self) -> None:
        if self.enabled and self.tty:
            self._emit("\n")
