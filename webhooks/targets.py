"""Where a webhook may be sent: http(s) URLs whose host is not loopback, private or link-local.

The check runs when an endpoint is saved and again at every attempt, on the addresses the attempt
then connects to (DNS can change between the two; the attempt never looks the name up twice).
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


_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: translated by rules we cannot see
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and may be routed to: IPv4-mapped, IPv4-compatible,
    6to4 (2002::/16), NAT64 (64:ff9b::/96) and Teredo (2001::/32, server and client)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


def address_is_private(address: str) -> bool:
    """Whether a webhook may not be sent to `address`: anything but a public unicast address, and
    every IPv6 form that carries an IPv4 address (6to4, NAT64, IPv4-mapped or -compatible, Teredo)
    judged by that IPv4 address too. NAT64 local-use prefixes are refused outright."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return True
        embedded = _embedded_ipv4(ip)
        if any(_not_public(inner) for inner in embedded):
            return True
        if embedded:
            # Only the carried IPv4 address is routed to; prefixes Python counts as reserved
            # (NAT64, ::/96) are fine when that address is public.
            return False
    return _not_public(ip)


def _is_local_name(host: str) -> bool:
    name = host.lower().rstrip(".")  # `localhost.` is the same name as `localhost`
    return name in {"localhost", "localhost.localdomain"} or name.endswith(".localhost")


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, without repeats; an IP literal is
    returned as is. Empty when unresolvable."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve `host` once and return the addresses a delivery may connect to.

    Raises `PrivateTargetError` when the name is a local one or any address it resolves to is not
    public (unless `allow_private`). The caller connects to these addresses, never to the name, so
    a second lookup (DNS rebinding) cannot send the request elsewhere.
    """
    if not allow_private and _is_local_name(host):
        raise PrivateTargetError(PRIVATE_TARGET_MESSAGE)
    addresses = resolve(host, port)
    if not allow_private and any(address_is_private(address) for address in addresses):
        raise PrivateTargetError(PRIVATE_TARGET_MESSAGE)
    return addresses


def check_target(url: str, *, allow_private: bool) -> None:
    """Raise `PrivateTargetError` when the URL's host is local or resolves to a non-public address.

    A host that does not resolve (yet) passes here; each delivery attempt resolves and checks again
    and connects to the checked address (`webhooks/transport.py`).
    """
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    checked_addresses(parts.hostname or "", port, allow_private=False)
