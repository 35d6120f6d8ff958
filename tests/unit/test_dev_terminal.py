"""`make run`'s terminal: notices set apart, colour only where wanted, and a server that dies
named once while the others' lines about it stay out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

from devstack.terminal import HOLD, Terminal, wants_colour
from devstack.watch import Server, Watch, describe, exit_status


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
    assert out.getvalue() == "one\ntwo\n"


def test_a_complaint_that_comes_before_the_death_is_known_stays_in_the_log_file(tmp_path):
    # A killed server's sockets close a moment before the kernel reports its exit; the other
    # server's "connection closed" line can come in that moment. (A hold longer than make
    # run's, so a slow machine's moment fits in it.)
    out = io.StringIO()
    terminal = Terminal(out, hold=1.0)
    watch = Watch(terminal, lambda p: p)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reader, writer = os.pipe()
    other = Server("other", victim, tmp_path / "other.log")
    try:
        watch.add(Server("victim", victim, tmp_path / "victim.log"))
        thread = watch.forward(other, os.fdopen(reader, "rb"))
        os.write(writer, b"worker Consumer encountered a connection error\n")
        while not (tmp_path / "other.log").exists() or not (tmp_path / "other.log").stat().st_size:
            time.sleep(0.005)
        victim.kill()
        while exit_status(victim) is None:
            time.sleep(0.005)
    finally:
        os.close(writer)
        thread.join(timeout=30)
        victim.wait()
    terminal.flush()
    assert b"connection error" in (tmp_path / "other.log").read_bytes()
    assert f"==> victim (pid {victim.pid}) died: killed by SIGKILL" in out.getvalue()
    assert "connection error" not in out.getvalue()


def test_a_server_that_exits_is_shown_saying_why_before_its_notice(tmp_path):
    out = io.StringIO()
    terminal = Terminal(out, hold=HOLD)
    watch = Watch(terminal, lambda p: p)
    dies = subprocess.Popen(
        [sys.executable, "-c", "print('RuntimeError: boom', flush=True); raise SystemExit(3)"],
        stdout=subprocess.PIPE,
    )
    server = Server("dies", dies, tmp_path / "dies.log")
    watch.add(server)
    watch.forward(server, dies.stdout).join(timeout=30)
    while watch.check() is None:  # make run's own loop
        time.sleep(0.01)
    terminal.flush()
    dies.wait()
    text = out.getvalue()
    assert text.index("RuntimeError: boom") < text.index(f"==> dies (pid {dies.pid}) died: exit")


def test_notices_and_server_lines_keep_the_order_they_came_in():
    out = io.StringIO()
    terminal = Terminal(out, hold=HOLD)
    terminal.child_line("api    Application startup complete.", "api")
    terminal.notice("signet-signup is running")
    terminal.child_line("api    POST /signup 303", "api")
    terminal.notice("mail caught: Confirm")
    terminal.flush()
    text = out.getvalue()
    order = ["startup complete", "is running", "POST /signup", "mail caught"]
    assert [text.index(x) for x in order] == sorted(text.index(x) for x in order)


def test_a_terminal_that_fails_a_write_goes_on_with_the_next(tmp_path):
    class Flaky(io.StringIO):
        failed = False

        def write(self, text):
            if not self.failed:
                self.failed = True
                raise BrokenPipeError
            return super().write(text)

    out = Flaky()
    terminal = Terminal(out, hold=0.01)
    terminal.say("lost")
    terminal.say("kept")
    assert terminal.flush()  # the printer is still there
    assert out.getvalue() == "kept\n"


def test_a_terminal_nobody_reads_does_not_hold_make_run_forever():
    class Stuck(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.free = threading.Event()

        def write(self, text):
            self.free.wait(30)  # a paused terminal, a pipe nobody reads
            return super().write(text)

    out = Stuck()
    terminal = Terminal(out, hold=0.01)
    terminal.say("stopped.")
    started = time.monotonic()
    assert terminal.flush(timeout=0.3) is False
    assert time.monotonic() - started < 5
    out.free.set()
    assert terminal.flush() and out.getvalue() == "stopped.\n"


def test_lines_held_when_the_stack_stops_are_still_shown_and_later_ones_are_not():
    out = io.StringIO()
    terminal = Terminal(out, hold=HOLD)
    terminal.child_line("worker mail sent", "worker")
    terminal.mute()
    terminal.child_line("worker lost the connection", "worker")
    terminal.say("stopped.")
    terminal.flush()
    assert out.getvalue() == "worker mail sent\nstopped.\n"


class SlowPipe:
    """A server's output that reaches the forwarder late: its last line is still in the pipe
    when the server's death is seen."""

    def __init__(self, lines: list[bytes], delay: float) -> None:
        self.lines, self.delay = lines, delay

    def __iter__(self):
        for line in self.lines:
            time.sleep(self.delay)
            yield line

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_dead_servers_last_lines_still_in_its_pipe_come_before_its_notice(tmp_path):
    out = io.StringIO()
    terminal = Terminal(out, hold=HOLD)
    watch = Watch(terminal, lambda p: p)
    dies = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dies.wait()
    server = Server("dies", dies, tmp_path / "dies.log")
    watch.add(server)
    watch.forward(server, SlowPipe([b"Traceback (most recent call last):\n"], 0.1))
    assert watch.check() is server  # seen dead while its last line is still on the way
    terminal.flush()
    text = out.getvalue()
    assert text.index("Traceback") < text.index(f"==> dies (pid {dies.pid}) died: exit code 3")
