"""`make run`'s terminal: notices set apart, colour only where wanted, and a server that dies
named once while the others' lines about it stay out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

from devstack.terminal import Terminal, wants_colour
from devstack.watch import HOLD, Server, Watch, describe, exit_status


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_colour(Tty()) and not wants_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Tty())


def test_a_notice_is_set_apart_by_blank_lines_and_a_marker(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = Tty()
    Terminal(out).notice("mail caught: Hi", "confirm link: http://x/confirm?token=t")
    assert out.getvalue() == "\n==> mail caught: Hi\n    confirm link: http://x/confirm?token=t\n\n"


def test_a_notice_is_coloured_on_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Tty()
    Terminal(out).notice("running", tone="good")
    assert out.getvalue().startswith("\n\033[1;32m==> running\033[0m\n")


def test_exit_statuses_are_said_plainly():
    assert describe(3) == "exit code 3"
    assert describe(-9) == "killed by SIGKILL"


def test_the_first_server_to_die_is_named_once_and_the_others_are_muted(tmp_path):
    out = io.StringIO()
    watch = Watch(Terminal(out), lambda p: p)
    runs = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dies = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        watch.add(Server("runs", runs, tmp_path / "runs.log"))
        watch.add(Server("dies", dies, tmp_path / "dies.log"))
        dies_status = None
        while dies_status is None:
            time.sleep(0.01)
            dies_status = exit_status(dies)
        assert dies.returncode is None, "still unreaped: its process group can be stopped"
        assert watch.check() is watch.check() is watch.servers[1]
        watch.terminal.child_line("worker connection refused")
    finally:
        runs.kill()
        runs.wait()
        dies.wait()
    assert out.getvalue().count("died") == 1
    assert f"==> dies (pid {dies.pid}) died: exit code 3\n    its log: {tmp_path}/dies.log" in (
        out.getvalue()
    )
    assert "connection refused" not in out.getvalue()


def test_forwarded_lines_reach_the_log_file_and_the_terminal(tmp_path):
    out = io.StringIO()
    watch = Watch(Terminal(out), lambda p: p)
    child = subprocess.Popen(
        [sys.executable, "-c", "print('one'); print('two')"], stdout=subprocess.PIPE
    )
    server = Server("child", child, tmp_path / "child.log")
    watch.forward(server, child.stdout).join(timeout=30)
    child.wait()
    assert (tmp_path / "child.log").read_bytes() == b"one\ntwo\n"
    watch.printed()
    assert out.getvalue() == "one\ntwo\n"


def test_a_complaint_that_comes_before_the_death_is_known_stays_in_the_log_file(tmp_path):
    # A killed server's sockets close a moment before the kernel reports its exit; the other
    # server's "connection closed" line can come in that moment.
    out = io.StringIO()
    watch = Watch(Terminal(out), lambda p: p)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reader, writer = os.pipe()
    other = Server("other", victim, tmp_path / "other.log")
    try:
        watch.add(Server("victim", victim, tmp_path / "victim.log"))
        thread = watch.forward(other, os.fdopen(reader, "rb"))
        os.write(writer, b"worker Consumer encountered a connection error\n")
        while not (tmp_path / "other.log").exists() or not (tmp_path / "other.log").stat().st_size:
            time.sleep(0.005)
        time.sleep(min(0.05, HOLD / 4))  # the kernel's "moment", shorter than the hold
        victim.kill()
        while exit_status(victim) is None:
            time.sleep(0.005)
    finally:
        os.close(writer)
        thread.join(timeout=30)
        victim.wait()
    watch.printed()
    assert b"connection error" in (tmp_path / "other.log").read_bytes()
    assert f"==> victim (pid {victim.pid}) died: killed by SIGKILL" in out.getvalue()
    assert "connection error" not in out.getvalue()
