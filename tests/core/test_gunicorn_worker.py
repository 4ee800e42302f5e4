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
