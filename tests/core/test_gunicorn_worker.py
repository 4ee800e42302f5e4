"""bxb's gunicorn worker (billing_project/core/gunicorn_worker.py): a connection whose request was
read to its end is closed at once; one whose body was left unread keeps gunicorn's graceful close.

Real sockets against a real gunicorn started with production's settings (gunicorn.conf.py, so the
worker class is the one production runs), one worker, serving a plain WSGI application
(tests/core/gunicorn_worker_app.py) so that it starts in about a second.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gunicorn
import pytest
from gunicorn import util
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

from billing_project.core import gunicorn_worker
from billing_project.core.gunicorn_worker import GUNICORN_VERSION, SyncWorker, body_read_to_end, nothing_pending

ROOT = Path(__file__).resolve().parents[2]
# gunicorn's graceful close waits up to 2 s for the client's FIN; a worker that skipped it answers
# the next connection long before that.
LINGER_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "tests.core.gunicorn_worker_app:app"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gunicorn exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield ("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(30)


def read_to_eof(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def exchange(address: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(request)
        return read_to_eof(conn)


def test_gunicorn_is_the_release_the_worker_was_written_against():
    # On an upgrade: reread gunicorn's SyncWorker.handle (handle_request, then close_graceful in a
    # `finally`), util.close_graceful and the body readers, then move the pin.
    assert gunicorn.__version__ == GUNICORN_VERSION
    assert issubclass(SyncWorker, GunicornSyncWorker)
    assert "handle_request" in SyncWorker.__dict__ and "handle" not in SyncWorker.__dict__


def test_production_settings_name_this_worker():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert util.load_class(conf.worker_class) is SyncWorker


def test_close_graceful_returns_at_once_on_a_socket_the_worker_closed():
    left, right = socket.socketpair()
    left.close()
    started = time.monotonic()
    util.close_graceful(left)
    assert time.monotonic() - started < 0.1
    right.close()


def test_a_get_gets_its_response_and_the_worker_does_not_wait_for_the_client(server):
    # The client reads the response and its end but keeps its side open. With gunicorn's close the
    # single worker would linger on that connection for 2 s before accepting the next one.
    held = socket.create_connection(server, timeout=10)
    try:
        held.sendall(b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n")
        response = read_to_eof(held)
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert response.endswith(b"hello " * 100)
        started = time.monotonic()
        second = exchange(server, b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n")
        assert second.startswith(b"HTTP/1.1 200 OK\r\n")
        assert time.monotonic() - started < LINGER_SECONDS / 2
    finally:
        held.close()


def test_a_post_whose_body_was_read_is_closed_at_once_too(server):
    body = b"x" * 100_000
    held = socket.create_connection(server, timeout=10)
    try:
        held.sendall(b"POST /consume HTTP/1.1\r\nHost: bxb\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert read_to_eof(held).endswith(b"\r\n\r\n100000")
        started = time.monotonic()
        assert exchange(server, b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n").startswith(b"HTTP/1.1 200 OK\r\n")
        assert time.monotonic() - started < LINGER_SECONDS / 2
    finally:
        held.close()


def test_a_large_post_answered_early_gets_its_401_not_a_reset(server):
    # The client sends headers and body in one go and reads afterwards, as HTTP clients do; the
    # application answers 401 without reading the body. Closing with the body unread resets the
    # connection (measured: most such requests then fail with ECONNRESET or EPIPE); gunicorn's
    # graceful close reads the body away first (up to 64 KiB, hence the size).
    body = b"x" * 60_000
    for _ in range(5):
        response = exchange(
            server, b"POST /early HTTP/1.1\r\nHost: bxb\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert response.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        assert response.endswith(b'"Unauthorized"}')


class _Request:
    def __init__(self, body: Body | None):
        self.body = body


class _Unreader:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int | None = None, read_ahead: int | None = None) -> bytes:
        if size is None:
            size = len(self.data)
        piece, self.data = self.data[:size], self.data[size:]
        return piece

    def unread(self, data: bytes) -> None:
        self.data = data + self.data


def test_body_read_to_end_follows_gunicorns_readers():
    assert body_read_to_end(_Request(Body(LengthReader(_Unreader(b""), 0))))  # no body (a GET)
    reader = LengthReader(_Unreader(b"abcdef"), 6)
    partly = Body(reader)
    assert not body_read_to_end(_Request(partly))
    reader.read(3)  # half of it off the connection
    assert not body_read_to_end(_Request(partly))
    assert partly.read() == b"def"
    assert body_read_to_end(_Request(partly))

    chunked = Body(ChunkedReader(_Request(None), _Unreader(b"3\r\nabc\r\n0\r\n\r\n")))
    assert not body_read_to_end(_Request(chunked))
    assert chunked.read() == b"abc"
    assert body_read_to_end(_Request(chunked))

    failed = Body(LengthReader(_Unreader(b""), 0))
    failed.failed = True
    assert not body_read_to_end(_Request(failed))
    assert not body_read_to_end(_Request(None))  # the request line could not be parsed


def test_nothing_pending_peeks_without_waiting_or_consuming():
    left, right = socket.socketpair()
    try:
        assert nothing_pending(left)
        right.sendall(b"more")
        time.sleep(0.01)
        assert not nothing_pending(left)
        assert left.recv(4) == b"more"  # peeked, not consumed
        right.shutdown(socket.SHUT_WR)
        time.sleep(0.01)
        assert not nothing_pending(left)  # the end of stream is left to gunicorn's close
        left.settimeout(5)
        started = time.monotonic()
        assert not nothing_pending(left)  # a socket with a timeout is not peeked at all
        assert time.monotonic() - started < 0.1
    finally:
        left.close()
        right.close()


def test_the_module_documents_its_pin():
    assert GUNICORN_VERSION in (gunicorn_worker.__doc__ or "")


# The work trimmed around each request (the module's docstring): the same bytes on the wire.


class _Sock:
    """What `Response` writes to: every `sendall` call kept apart."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def _parsed(raw: bytes) -> Any:
    from gunicorn import http
    from gunicorn.config import Config

    left, right = socket.socketpair()
    try:
        right.sendall(raw)
        return next(http.get_parser(Config(), left, ("127.0.0.1", 5000)))
    finally:
        left.close()
        right.close()


def _answer(response_class: type, raw: bytes, status: str, headers: list[tuple[str, str]], body: list[bytes]) -> _Sock:
    from gunicorn.config import Config

    sock = _Sock()
    resp = response_class(_parsed(raw), sock, Config())
    resp.force_close()
    resp.start_response(status, headers)
    for piece in body:
        resp.write(piece)
    resp.close()
    return sock


CASES = [
    (b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n", "200 OK",
     [("Content-Type", "application/json"), ("Content-Length", "11"), ("X-Request-Id", "abc")], [b'{"a": "b"}\n']),
    (b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n", "200 OK", [("Content-Type", "text/plain")], [b"chunk one", b"two"]),
    (b"GET / HTTP/1.0\r\n\r\n", "404 Not Found", [("Content-Type", "text/plain")], [b"gone"]),
    (b"HEAD / HTTP/1.1\r\nHost: bxb\r\n\r\n", "200 OK", [("Content-Length", "5")], [b"hello"]),
    (b"DELETE /x HTTP/1.1\r\nHost: bxb\r\n\r\n", "204 No Content", [("Content-Length", "0")], []),
    (b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n", "200 OK", [("Content-Length", "0")], [b""]),
    (b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n", "200 OK", [("Content-Length", "3")], [b"a", b"b", b"c"]),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "status", "headers", "body"), CASES)
def test_the_response_sends_gunicorns_bytes(raw, status, headers, body, monkeypatch):
    from gunicorn.http import wsgi

    frozen = 1_800_000_000.25
    monkeypatch.setattr(time, "time", lambda: frozen)
    theirs = _answer(wsgi.Response, raw, status, headers, body)
    ours = _answer(gunicorn_worker.Response, raw, status, headers, body)
    assert b"".join(ours.sends) == b"".join(theirs.sends)
    assert b"\r\nDate: Fri, 15 Jan 2027 08:00:00 GMT\r\n" in b"".join(ours.sends)


def test_the_header_block_goes_out_with_the_first_body_bytes(monkeypatch):
    from gunicorn.http import wsgi

    raw, status, headers, body = CASES[0]
    assert len(_answer(wsgi.Response, raw, status, headers, body).sends) == 2  # gunicorn's: head, then body
    ours = _answer(gunicorn_worker.Response, raw, status, headers, body)
    assert len(ours.sends) == 1
    assert ours.sends[0].endswith(b'\r\n\r\n{"a": "b"}\n')


def test_the_date_is_formatted_once_a_second(monkeypatch):
    now = [1_800_000_000.1]
    monkeypatch.setattr(time, "time", lambda: now[0])
    date = gunicorn_worker.HttpDate()
    first = date.now()
    assert first == util.http_date(now[0]) == "Fri, 15 Jan 2027 08:00:00 GMT"
    now[0] = 1_800_000_000.9
    assert date.now() is first
    now[0] = 1_800_000_001.0
    assert date.now() == "Fri, 15 Jan 2027 08:00:01 GMT"


def test_the_heartbeat_is_written_at_most_once_a_second(monkeypatch):
    worker = SyncWorker.__new__(SyncWorker)  # no arbiter: only notify() is exercised

    class Tmp:
        beats = 0

        def notify(self) -> None:
            self.beats += 1

    worker.tmp = Tmp()
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    worker.notify()
    worker.notify()
    clock[0] += 0.5
    worker.notify()
    assert worker.tmp.beats == 1
    clock[0] += 0.6
    worker.notify()
    assert worker.tmp.beats == 2


def test_settle_heap_freezes_what_the_application_made():
    import gc

    from billing_project.core.heap import GC_THRESHOLDS

    before = gc.get_threshold()
    try:
        gunicorn_worker.settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert "billing_project.urls" in sys.modules  # the URLconf imported before the freeze
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_real_worker_answers_with_one_segment_and_a_date(server):
    response = exchange(server, b"GET / HTTP/1.1\r\nHost: bxb\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert lines[1:4] == [b"Server: gunicorn", lines[2], b"Connection: close"]
    assert lines[2].startswith(b"Date: ") and lines[2].endswith(b" GMT")
    assert body == b"hello " * 100


def test_the_settled_config_reads_every_setting_as_gunicorns():
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("workers", 3)
    cfg.set("forwarded_allow_ips", "10.0.0.1,127.0.0.1")
    cfg.set("pre_request", lambda worker, req: None)
    settled = gunicorn_worker.settled_config(cfg)
    assert settled is not cfg
    for name in cfg.settings:
        assert getattr(settled, name) == getattr(cfg, name), name
        assert name in vars(settled) or isinstance(getattr(type(cfg), name, None), property), name
    for name in ("is_ssl", "worker_class_str", "address", "proc_name", "sendfile", "reuse_port", "env"):
        assert getattr(settled, name) == getattr(cfg, name), name
    assert settled.workers == 3 and settled.pre_request is cfg.pre_request
    assert settled.forwarded_allow_networks() == cfg.forwarded_allow_networks()
    assert "workers" not in vars(cfg)  # the master's Config is left as it was


def test_the_worker_reads_its_settings_from_the_settled_copy():
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    cfg = Config()
    with socket.socket() as listener:
        worker = SyncWorker(1, os.getpid(), [listener], None, 30, cfg, Logger(cfg))
        try:
            assert worker.cfg is not cfg
            assert "limit_request_line" in vars(worker.cfg)
            assert worker.cfg.limit_request_line == cfg.limit_request_line
        finally:
            worker.tmp.close()
