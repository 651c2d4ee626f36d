"""SSRF guard: which IP addresses a fetch may connect to.

The check runs on the address a socket is about to connect to (an aiohttp
``socket_factory``), i.e. after DNS resolution, so a name that resolves to a
private address -- including a rebinding name that resolved to a public one a
moment ago -- and a redirect to such a name are refused the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

# Marker in error messages so a refusal can be told from other socket errors
# after aiohttp/aiohappyeyeballs have wrapped (and sometimes merged) them.
REFUSED_MARKER = "refused by SSRF guard"

# Python 3.11's ipaddress does not count shared address space (RFC 6598) as
# private; is_global covers it, listed here to make the rule explicit.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class RefusedAddressError(OSError):
    """A connection to a non-public address was refused."""


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_ip_literal(host: str) -> bool:
    return _parse(host) is not None


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    ip = _parse(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return bool(
        ip.is_global
        and not (
            ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


def refusal(address: str) -> str:
    return f"{address} is not a public address ({REFUSED_MARKER})"


def guarded_socket_factory(addr_info: Any) -> socket.socket:
    """aiohttp ``socket_factory`` that refuses non-public destinations."""
    family, type_, proto, _canon, sockaddr = addr_info
    address = str(sockaddr[0])
    if not is_public_address(address):
        raise RefusedAddressError(refusal(address))
    return socket.socket(family=family, type=type_, proto=proto)


def is_refusal(exc: BaseException) -> bool:
    """Whether an exception (or anything in its chain) is an SSRF refusal."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RefusedAddressError) or REFUSED_MARKER in str(current):
            return True
        os_error = getattr(current, "os_error", None)
        if isinstance(os_error, BaseException) and is_refusal(os_error):
            return True
        current = current.__cause__ or current.__context__
    return False
