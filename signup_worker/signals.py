"""A worker process stops gracefully when its whole process group gets SIGTERM.

systemd stops a unit by signalling every process in it (KillMode=control-group, the default),
and `kill -TERM -PGID` does the same: a Dramatiq worker process then gets SIGTERM twice at
once, its own and the one its parent forwards. Dramatiq takes the second for "kill now" and
exits its main thread, while its consumer and worker threads, never stopped, keep the process
alive: the stop hung until systemd's SIGKILL. Here a repeat within REPEAT_WINDOW of the first is
that same stop and is ignored; a later one is a real "kill now", and os._exit delivers it.
"""

from __future__ import annotations

import logging
import os
import signal
import time

from dramatiq import Middleware

log = logging.getLogger(__name__)

REPEAT_WINDOW = 2.0
KILLED = 1  # Dramatiq's exit code for a killed worker process


class GroupStop(Middleware):
    def after_process_boot(self, broker) -> None:
        dramatiqs = signal.getsignal(signal.SIGTERM)
        first: float | None = None

        def on_term(signum, frame) -> None:
            nonlocal first
            now = time.monotonic()
            if first is None:
                first = now
                if callable(dramatiqs):
                    dramatiqs(signum, frame)  # stop: finish what is in hand, then exit
            elif now - first < REPEAT_WINDOW:
                log.info("repeated stop signal ignored: already stopping")
            else:
                log.warning("killed while stopping")
                os._exit(KILLED)

        signal.signal(signal.SIGTERM, on_term)
