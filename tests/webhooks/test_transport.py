"""One HTTP POST: success is any 2xx, everything else is a recorded failure."""

from __future__ import annotations

import pytest

from webhooks import transport


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (202, True), (204, True), (301, False), (404, False), (500, False)]
)
def test_only_2xx_is_success_and_redirects_are_not_followed(receiver, status, ok):
    receiver.status = status
    receiver.reply = b"" if status == 204 else b"answer"
    outcome = transport.post(receiver.url, b"{}", {"X-Test": "1"}, timeout=2)
    assert outcome.succeeded is ok
    assert outcome.http_status == status
    assert outcome.error == ("" if ok else f"HTTP {status}")
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["X-Test"] == "1"


def test_a_large_answer_is_cut_to_an_excerpt(receiver):
    receiver.reply = b"x" * 200_000
    outcome = transport.post(receiver.url, b"{}", {}, timeout=2)
    assert outcome.succeeded
    assert outcome.response_excerpt == "x" * transport.RESPONSE_EXCERPT_CHARS


def test_network_errors_become_failures(idle_receiver):
    refused = transport.post(idle_receiver.url, b"{}", {}, timeout=1)
    assert not refused.succeeded and refused.http_status is None and "ConnectError" in refused.error
    invalid = transport.post("http://exa mple.test/x", b"{}", {}, timeout=1)
    assert not invalid.succeeded and invalid.error
