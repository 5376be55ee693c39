"""Free TCP ports on 127.0.0.1, so several control planes on one machine never collide."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_ports"]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the kernel reports free on 127.0.0.1 right now.

    The sockets are bound together (so the ports differ) and closed before returning; a port
    could be taken again before its user binds it, which a start-up failure then reports.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports
