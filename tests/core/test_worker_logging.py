"""Workers log as the web does: LOG_LEVEL governs their level, and URLs that may carry a token are
never logged in full (HTTP client libraries log every request's URL at INFO)."""

from __future__ import annotations

import logging

import httpx
import pytest

from billing_project.core.logging import RedactUrlsFilter, redact_urls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("POST https://hooks.example.com/services/T0/B0/s3cr3t done", "POST https://hooks.example.com/services/… done"),
        ("https://hooks.example.com/in?token=abc&x=1", "https://hooks.example.com/in/…"),
        ("https://user:pw@hooks.example.com/", "https://hooks.example.com/…"),
        ("http://127.0.0.1:9000/hook#frag", "http://127.0.0.1:9000/hook/…"),
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://example.com", "https://example.com"),
        ("no url here", "no url here"),
        (
            "two: https://a.test/x/y and redis://:pw@r.test:6379/0",
            "two: https://a.test/x/… and redis://r.test:6379/0/…",
        ),
    ],
)
def test_redact_urls(text, expected):
    assert redact_urls(text) == expected


def test_a_webhook_url_logged_by_httpx_loses_its_token():
    url = httpx.URL("https://hooks.example.com/services/T0/B0/s3cr3t?token=abc")
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s %d %s"', ("POST", url, "HTTP/1.1", 200, "OK"), None
    )
    assert RedactUrlsFilter().filter(record)
    message = record.getMessage()
    assert message == 'HTTP Request: POST https://hooks.example.com/services/… "HTTP/1.1 200 OK"'
    assert "s3cr3t" not in message and "abc" not in message


def test_the_console_handler_redacts_every_logger(settings):
    assert "redact_urls" in settings.LOGGING["handlers"]["console"]["filters"]


def test_log_level_governs_the_worker_not_celerys_loglevel(settings):
    from billing_project.celery import app

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    app.log.already_setup = False
    try:
        app.log.setup_logging_subsystem(loglevel="DEBUG")  # what `celery worker --loglevel DEBUG` does
        assert logging.getLevelName(root.level) == settings.LOG_LEVEL
        assert any(isinstance(f, RedactUrlsFilter) for h in root.handlers for f in h.filters)
    finally:
        app.log.already_setup = False
        root.handlers[:] = handlers
        root.setLevel(level)
