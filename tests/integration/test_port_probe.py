"""The readiness probe of `make run` and the test servers cannot connect to itself: with ports in
the ephemeral range, the kernel may give the probe the very port it probes as its source port,
and a TCP self-connect then "opens" the port and holds it from the server about to bind it."""

from __future__ import annotations

import socket

from devstack.processes import free_port, port_open, probe


def test_a_probe_whose_source_port_is_the_target_reports_closed_and_frees_it():
    port = free_port()
    # Given the source port the kernel could pick for an unbound probe: the target itself.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        assert probe(s, "127.0.0.1", port) is False
    # Then the server can still bind and listen there, and is seen once it does.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        assert port_open(port)


def test_a_self_connected_socket_is_not_taken_for_a_server():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        assert s.connect_ex(("127.0.0.1", port)) == 0  # what the old probe saw: "open"
        assert s.getsockname() == s.getpeername()
    assert not port_open(port)
