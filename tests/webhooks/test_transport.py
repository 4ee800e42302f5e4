"""One HTTP POST: success is any 2xx, everything else is a recorded failure."""

from __future__ import annotations

import socket

import pytest

from tests.webhooks.conftest import Receiver, free_port
from webhooks import targets, transport


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (202, True), (204, True), (301, False), (404, False), (500, False)]
)
def test_only_2xx_is_success_and_redirects_are_not_followed(receiver, status, ok):
    receiver.status = status
    receiver.reply = b"" if status == 204 else b"answer"
    outcome = transport.post(receiver.url, b"{}", {"X-Test": "1"}, timeout=2, allow_private=True)
    assert outcome.succeeded is ok
    assert outcome.http_status == status
    assert outcome.error == ("" if ok else f"HTTP {status}")
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["X-Test"] == "1"


def test_a_large_answer_is_cut_to_an_excerpt(receiver):
    receiver.reply = b"x" * 200_000
    outcome = transport.post(receiver.url, b"{}", {}, timeout=2, allow_private=True)
    assert outcome.succeeded
    assert outcome.response_excerpt == "x" * transport.RESPONSE_EXCERPT_CHARS


def test_network_errors_become_failures(idle_receiver):
    refused = transport.post(idle_receiver.url, b"{}", {}, timeout=1, allow_private=True)
    assert not refused.succeeded and refused.http_status is None and "ConnectError" in refused.error
    invalid = transport.post("http://exa mple.test/x", b"{}", {}, timeout=1, allow_private=True)
    assert not invalid.succeeded and invalid.error


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(monkeypatch):
    """DNS rebinding: the name answers a public address to the check and a private one afterwards.
    The request must reach the checked address, and the name is looked up once."""
    port = free_port()
    checked = Receiver(port=port, host="127.0.0.2")  # stands in for a public address
    private = Receiver(port=port, host="127.0.0.1")  # what a second lookup would answer
    checked.start()
    private.start()
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.2" if len(lookups) == 1 else "127.0.0.1"
        return real_getaddrinfo(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    # Only 127.0.0.1 counts as private here, so that 127.0.0.2 can play the public address.
    monkeypatch.setattr(targets, "address_is_private", lambda address: address == "127.0.0.1")
    try:
        outcome = transport.post(f"http://hooks.rebind.test:{port}/hooks", b"{}", {}, timeout=2)
    finally:
        checked.stop()
        private.stop()
    assert outcome.succeeded, outcome.error
    assert lookups == ["hooks.rebind.test"]
    assert len(checked.requests) == 1 and private.requests == []
    assert checked.requests[0].headers["Host"] == f"hooks.rebind.test:{port}"


def test_a_name_resolving_to_a_private_address_is_not_called(monkeypatch, receiver):
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host == "internal.example.test":
            host = "127.0.0.1"
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    outcome = transport.post(f"http://internal.example.test:{receiver.port}/hooks", b"{}", {}, timeout=2)
    assert not outcome.succeeded and outcome.error == targets.PRIVATE_TARGET_MESSAGE
    assert receiver.requests == []
    for url in (f"http://localhost.:{receiver.port}/hooks", f"http://[::ffff:127.0.0.1]:{receiver.port}/hooks"):
        refused = transport.post(url, b"{}", {}, timeout=2)
        assert refused.error == targets.PRIVATE_TARGET_MESSAGE, url
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("2002:7f00:1::1", True),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", True),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254
        ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::5db8:d70e", True),  # local-use NAT64 prefix
        ("::ffff:127.0.0.1", True),  # IPv4-mapped
        ("::ffff:192.168.1.1", True),
        ("::10.0.0.1", True),  # IPv4-compatible
        ("::1", True),
        ("::", True),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo, client 127.0.0.1
        ("2001:0:c0a8:101:8000:63bf:3fff:fdd2", True),  # Teredo, server 192.168.1.1
        ("fc00::1", True),
        ("fec0::1", True),  # site-local
        ("fe80::1%eth0", True),
        ("ff02::1", True),
        ("2001:db8::1", True),  # documentation
        ("100.64.0.1", True),  # carrier-grade NAT
        ("198.18.0.1", True),
        ("0.0.0.0", True),
        ("255.255.255.255", True),
        ("2002:5db8:d70e::1", False),  # 6to4 of a public address
        ("64:ff9b::5db8:d70e", False),  # NAT64 of a public address
        ("::ffff:93.184.215.14", False),
        ("93.184.215.14", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_private_addresses_in_every_form_are_refused(address, private):
    assert targets.address_is_private(address) is private
