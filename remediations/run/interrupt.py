"""Ctrl-C and SIGTERM as a run sees them: the first stops new work, the second stops waiting.

The runner checks `Interrupt` between hosts and while it waits; it never raises in a
worker thread. On the first signal no host or batch is started any more and the hosts
in flight finish (their locks released, their results and audit lines written); on the
second, the run stops waiting for them at once and reports their state as unknown.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupt"]


class Interrupt:
    """How many stop requests a run has had, and the first one's signal name.

    `interrupt.request("SIGINT")` is what a signal handler (or another thread) calls;
    `run(..., interrupt=interrupt)` obeys it. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.signal = ""
        self.changed = threading.Event()  # set at each request; the runner's wait wakes on it

    def request(self, name: str = "SIGINT") -> None:
        """Ask the run to stop: the first call stops new work, a second stops waiting."""
        with self._lock:
            self._count += 1
            self.signal = self.signal or name
        self.changed.set()

    @property
    def requested(self) -> bool:
        """Whether the run was asked to stop starting hosts."""
        return self._count > 0

    @property
    def at_once(self) -> bool:
        """Whether the run was asked twice: stop waiting for the hosts in flight."""
        return self._count > 1

    @contextmanager
    def handling(self, *signums: signal.Signals) -> Iterator[Interrupt]:
        """Route `signums` (default SIGINT, SIGTERM) to `request` while the block runs.

        Only the main thread can set handlers; elsewhere nothing is installed and the
        caller's own handling stays in force. The previous handlers come back afterwards.
        """
        wanted = signums or (signal.SIGINT, signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            self.request(signal.Signals(signum).name)

        previous = {s: signal.signal(s, handler) for s in wanted}
        try:
            yield self
        finally:
            for s, old in previous.items():
                signal.signal(s, old)
