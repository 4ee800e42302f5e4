"""bxb's gunicorn worker: gunicorn's sync worker that closes a finished connection without waiting.

`gunicorn.conf.py` names it (`worker_class`); docs/operations.md, "Serving the API", says why.

gunicorn's sync worker answers one request per connection and then closes it with
`gunicorn.util.close_graceful`: it half-closes the connection (FIN) and then reads from it, for up
to 2 s, until the client closes its side. The worker accepts nothing else meanwhile, so each
request keeps its worker busy until the client process has been scheduled, has read the response
and has closed: on a busy machine that wait (milliseconds) is longer than the request itself.

The wait matters in one case only: when the application answered without reading the whole
request body (a 401 to a large POST, sent before the body arrived). Closing a socket whose receive
buffer still holds unread bytes, or which receives more bytes after the close, makes the kernel
send a reset, and a reset can reach the client before it has read the response: it then sees a
connection error instead of the 401. Reading until the client's FIN avoids that.

`SyncWorker` here keeps that wait where it is needed and skips it elsewhere: after a response
has been sent in full, when the request's body was read to its end (every request without a body,
so every GET, and every POST whose body the application consumed) and nothing more is waiting on
the socket, the connection is closed at once (FIN after the response; the client reads the response
and its end as before). In every other case (body not read to its end, bytes still arriving, an
error, TLS) gunicorn's own graceful close runs as before.

How it hooks in (checked against gunicorn 27.0.1; `tests/core/test_gunicorn_worker.py` pins
the version and the behaviour it relies on): `SyncWorker.handle` calls `handle_request(listener,
req, client, addr)` and then, in a `finally`, `util.close_graceful(client)`. This class overrides
`handle_request` only: after gunicorn's own returns normally it closes `client` itself when the
conditions above hold; `close_graceful` then finds the socket closed, its `shutdown` fails and it
returns at once (it then calls `close()` again, a no-op on a closed socket).

The per-request work around the application (measured with callgrind, bench/RESULTS.md "The server
layer"): gunicorn's sync worker spent about 630,000 instructions per request around a trivial WSGI
application, two thirds of what Django spends on `/health`. `handle_request` is therefore
gunicorn's own (27.0.1, `SyncWorker.handle_request`: the same hooks, the same error handling, the
same `wsgi.create`) less the work that served nothing here:
* the response's header block is held back and sent with the first body bytes in one `sendall`
  (`Response`): one system call and one TCP segment per response instead of two, the bytes on the
  wire unchanged (a test compares them with gunicorn's own `Response`);
* the `Date` header is formatted once per second, not per request (the same text: it has whole
  seconds);
* the listening socket's address (`SERVER_NAME`/`SERVER_PORT`) is read once, not by a
  `getsockname` call per request;
* the request's duration is timed only when gunicorn's access log is on (`accesslog`);
* `accept` does not set close-on-exec again (Python's `accept` already did, PEP 446);
* the heartbeat (`notify`, a `utime` of the worker's temporary file, which the master reads to
  kill a worker stuck longer than `timeout`) is written at most once a second instead of once or
  twice per request;
* gunicorn's settings are read from a copy of its `Config` that holds each setting's value as a
  plain attribute (`settled_config`): gunicorn reads ~26 settings per request (the parser's limits
  and policies, the hooks, `is_ssl`), and on its `Config` each read is a failed attribute lookup
  (an `AttributeError` built, its message formatted, then dropped) before `Config.__getattr__`
  returns the value: 170,000 instructions per request, more than all the rest above together.
After the application is loaded, the objects it made (Django, the URLconf, every view) are moved
out of the garbage collector's sight and collections start less often (`settle_heap`).
"""

from __future__ import annotations

import copy
import email.utils
import errno
import gc
import socket
import sys
import time
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

from billing_project.core.heap import tune_garbage_collection

# The gunicorn release whose sync worker and close this module was written against (the test
# fails on another one, so that an upgrade rereads `SyncWorker.handle` and `util.close_graceful`).
GUNICORN_VERSION = "27.0.1"

_PEEK_FLAGS = socket.MSG_PEEK | socket.MSG_DONTWAIT


def body_read_to_end(req: Any) -> bool:
    """Whether every byte of the request's body has been read from the connection.

    gunicorn gives a request without a body (no Content-Length, not chunked) a `LengthReader` of
    length 0; a `LengthReader`'s `length` counts what is still to be read; a `ChunkedReader` drops
    its `parser` once it has read the last chunk and the trailers. Anything else (a failed read,
    an unknown reader) counts as not read to its end.
    """
    body = getattr(req, "body", None)
    if body is None or getattr(body, "failed", False):
        return False
    reader = body.reader
    if isinstance(reader, LengthReader):
        return reader.length == 0
    if isinstance(reader, ChunkedReader):
        return reader.parser is None
    return False


def nothing_pending(client: socket.socket) -> bool:
    """Whether the client has sent nothing more and not closed (a non-blocking peek, no wait).

    Bytes waiting (a pipelined request, a body longer than announced) would turn the close into a
    reset: then gunicorn's graceful close drains them. An end of stream already there is harmless
    either way, but gunicorn's close handles it in one read, so it is left to it too.
    """
    if client.gettimeout() not in (None, 0.0):  # Python would wait for the timeout before peeking
        return False
    try:
        client.recv(1, _PEEK_FLAGS)
    except BlockingIOError:
        return True
    except OSError as error:  # reset by the client, or any other state: leave it to gunicorn
        return error.errno == errno.EAGAIN
    return False


class HttpDate:
    """The `Date` header's value, formatted once per second (gunicorn's `util.http_date` formats
    it for every response; the text has whole seconds, so it is the same)."""

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.text = email.utils.formatdate(second, localtime=False, usegmt=True)
            self.second = second
        return self.text


_http_date = HttpDate()


class Response(wsgi.Response):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's HTTP/1.1 response, its header block sent together with the first body bytes.

    gunicorn writes the header block with one `sendall` and each body piece with another; a Django
    response is one piece, so each response cost two system calls and went out as two TCP segments.
    Here `send_headers` builds the same block and keeps it; the first body write (or `close`, for
    a response without a body) sends it, prepended to the body bytes when the body is not chunked.
    `headers_sent` is set as gunicorn sets it, so its error handling sees the same states.
    """

    held: bytes | None = None
    headers_sent: bool  # gunicorn's (set in its __init__)

    def default_headers(self) -> list[str]:
        # gunicorn's own (27.0.1), with the Date value from `HttpDate`
        if self.upgrade:
            connection = "upgrade"
        elif self.should_close():
            connection = "close"
        else:
            connection = "keep-alive"
        headers = [
            f"HTTP/{self.req.version[0]}.{self.req.version[1]} {self.status}\r\n",
            f"Server: {self.version}\r\n",
            f"Date: {_http_date.now()}\r\n",
            f"Connection: {connection}\r\n",
        ]
        if self.chunked:
            headers.append("Transfer-Encoding: chunked\r\n")
        return headers

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        lines = self.default_headers()
        lines.extend([f"{name}: {value}\r\n" for name, value in self.headers])
        self.held = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def send_held(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            self.sock.sendall(held)

    def _emit_body(self, data: bytes) -> None:
        held = self.held
        if held is not None and not self.chunked:
            self.held = None
            self.sock.sendall(held + data)
            return
        self.send_held()
        super()._emit_body(data)

    def sendfile(self, respiter: Any) -> bool:
        if self.cfg.is_ssl or not self.can_sendfile():
            return False  # as gunicorn's: the caller writes the file piece by piece
        self.send_headers()
        self.send_held()
        return bool(super().sendfile(respiter))

    def close(self) -> None:
        self.send_headers()
        self.send_held()
        super().close()


def settle_heap() -> None:
    """Once the application is loaded: import the URLconf, collect, then freeze what the process
    holds and collect less often (`billing_project.core.heap`, as the Celery workers do).

    A worker imports Django, the URLconf and every view once; those objects live as long as the
    process. A full (generation 2) collection walks every tracked object: ~100–127 ms of CPU each
    in a worker of the API mix (bench/RESULTS.md "The server layer"), a pause for every request
    queued behind it. Frozen, they are left out of every later collection. The URLconf (and through
    it every view, serializer and model) is imported here, before the freeze, instead of by the
    first request.
    """
    from django.conf import settings

    if settings.configured:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 (imports the URLconf: a cached property)
    gc.collect()
    tune_garbage_collection()


def settled_config(cfg: Any) -> Any:
    """A copy of gunicorn's `Config` whose settings are plain attributes (their values, read once).

    The worker's settings do not change while it lives: a configuration reloaded by the master
    (`HUP`) starts new workers, which copy the new one. `Config`'s properties (`is_ssl`,
    `worker_class`, ...) stay properties and read the copied values. The copy shares nothing that
    it changes: `settings` is read, never written, here.
    """
    settled = copy.copy(cfg)
    properties = {
        name for klass in type(cfg).__mro__ for name, value in vars(klass).items() if isinstance(value, property)
    }
    # `Config.__setattr__` refuses setting names: the copy's own attribute dictionary is filled instead.
    vars(settled).update({name: setting.get() for name, setting in cfg.settings.items() if name not in properties})
    return settled


class SyncWorker(GunicornSyncWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's sync worker, closing at once a connection whose request was read in full, with
    less work around each request (the module's docstring)."""

    # seconds between two heartbeats; gunicorn's `timeout` is 30 s (gunicorn.conf.py)
    HEARTBEAT_SECONDS = 1.0
    heartbeat_at = float("-inf")
    server_names: dict[Any, Any] | None = None

    def __init__(self, age: Any, ppid: Any, sockets: Any, app: Any, timeout: Any, cfg: Any, log: Any) -> None:
        super().__init__(age, ppid, sockets, app, timeout, settled_config(cfg), log)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        settle_heap()

    def notify(self) -> None:
        now = time.monotonic()
        if now - self.heartbeat_at >= self.HEARTBEAT_SECONDS:
            self.heartbeat_at = now
            super().notify()

    def accept(self, listener: Any) -> None:
        client, addr = listener.accept()  # close-on-exec already (PEP 446): gunicorn sets it again
        client.setblocking(1)
        self.handle(listener, client, addr)

    def server_name(self, listener: Any) -> Any:
        names = self.server_names
        if names is None:
            names = self.server_names = {}
        name = names.get(listener)
        if name is None:
            name = names[listener] = listener.getsockname()
        return name

    def handle_request(self, listener: Any, req: Any, client: socket.socket, addr: Any) -> None:
        # gunicorn's SyncWorker.handle_request (27.0.1) with bxb's Response, the listener's address
        # read once and the request timed only for the access log; then the close at once.
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            timed = self.log.access_log_enabled
            request_start = datetime.now() if timed else None
            resp, environ = wsgi.create(
                req, client, addr, self.server_name(listener), self.cfg, response_class=Response
            )
            # Force the connection closed (gunicorn's sync worker has no keep-alive).
            resp.force_close()
            self.nr += 1
            if self.nr >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                if request_start is not None:
                    self.log.access(resp, req, environ, datetime.now() - request_start)
                if hasattr(respiter, "close"):
                    respiter.close()
        except OSError:
            # pass to next try-except level
            util.reraise(*sys.exc_info())
        except (Exception, SystemExit):
            if resp and resp.headers_sent:
                # Timeout abort is SystemExit. If we already started the
                # response, writing a 500 on the same socket corrupts it.
                self.log.exception("Error handling request")
                util.close_graceful(client)
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")
        # Reached only when the response went out in full (gunicorn raises otherwise).
        if not self.cfg.is_ssl and body_read_to_end(req) and nothing_pending(client):
            client.close()
