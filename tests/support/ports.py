"""Free TCP ports on loopback addresses."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now at ``host``.

    The port is released before it is returned, so another process may take it
    first; the launchers that use it notice their server failing to bind and
    start again on a new port.
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
