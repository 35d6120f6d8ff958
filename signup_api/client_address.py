"""Pure-ASGI middleware: the client address is the socket peer, unless that peer is a trusted
proxy, in which case it is the nearest untrusted hop in the one forwarding header that proxy
writes (SIGNUP_FORWARDED_HEADER); the other header is the client's to forge, and is ignored."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.count(":") == 1 and "." in text:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _hops(headers: Iterable[tuple[bytes, bytes]], header: str) -> list[str]:
    """Forwarding hops, nearest client first, as the proxies wrote them. Repeated header lines
    are one list in order (RFC 9110 5.3): a proxy may add its own line after the client's."""
    name = header.encode()
    value = ", ".join(v.decode("latin-1") for k, v in headers if k == name)
    if header == "forwarded":
        return _FORWARDED_FOR.findall(value)
    return [h.strip() for h in value.split(",")] if value else []


def resolve(
    peer: str, headers: Iterable[tuple[bytes, bytes]], trusted: tuple[Network, ...], header: str
) -> str:
    def is_trusted(address) -> bool:
        return address is not None and any(address in net for net in trusted)

    if not trusted or not is_trusted(_ip(peer)):
        return peer
    # Walk from the nearest hop outwards; the first one we do not trust is the client.
    for hop in reversed(_hops(headers, header)):
        address = _ip(hop)
        if address is None:
            return peer  # garbage in the chain: trust nothing it says
        if not is_trusted(address):
            return str(address)
    return peer


class ClientAddress:
    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...], header: str) -> None:
        self.app = app
        self.trusted = trusted
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted and scope.get("client"):
            host, port = scope["client"]
            client = resolve(host, scope["headers"], self.trusted, self.header)
            if client != host:
                scope = {**scope, "client": (client, port)}
        await self.app(scope, receive, send)
