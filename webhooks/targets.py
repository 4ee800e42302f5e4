"""Where a webhook may be sent: http(s) URLs whose host is not loopback, private or link-local.

The check runs when an endpoint is saved and again before every attempt (DNS can change).
`WEBHOOKS_ALLOW_PRIVATE_TARGETS` lifts the address rule (tests, private deployments).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 1024
PRIVATE_TARGET_MESSAGE = (
    "the webhook URL resolves to a loopback, private or link-local address, which is not allowed "
    "(set WEBHOOKS_ALLOW_PRIVATE_TARGETS to allow it)"
)


class PrivateTargetError(Exception):
    pass


def url_is_valid(url: object) -> bool:
    """An absolute http(s) URL with a host and no credentials."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError:
        return False
    del port
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    return not (parts.username or parts.password)


def address_is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to; an IP literal is returned as is. Empty when unresolvable."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def check_target(url: str, *, allow_private: bool) -> None:
    """Raise `PrivateTargetError` when the URL's host resolves to a non-public address.

    A host that does not resolve (yet) passes here; the delivery attempt then fails and retries.
    """
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(".localhost"):
        raise PrivateTargetError(PRIVATE_TARGET_MESSAGE)
    for address in resolve(host, port):
        if address_is_private(address):
            raise PrivateTargetError(PRIVATE_TARGET_MESSAGE)
