"""Stopping a server we started leaves nothing of it running, children it forked included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from devstack.processes import stop

# A parent that forks a child deaf to SIGTERM, then exits on SIGTERM without waiting for it:
# what a Dramatiq parent killed in the middle of its shutdown leaves behind.
PARENT = """
import os, signal, sys, time
child = os.fork()
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(120)
    os._exit(0)
print(child, flush=True)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; only its parent (here: init) has yet to reap it.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("own_session", [True, False])
def test_stop_leaves_no_child_of_a_process_group_behind(own_session):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=own_session
    )
    child = int(parent.stdout.readline())
    try:
        stop(parent, timeout=5)
        time.sleep(0.2)
        # Only a process that leads its own group can be cleaned up this way.
        assert alive(child) is not own_session
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
        parent.stdout.close()
