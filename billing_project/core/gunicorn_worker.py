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
returns at once (it then calls `close()` again, a no-op on a closed socket). Nothing of gunicorn's
is copied or patched.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

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


class SyncWorker(GunicornSyncWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's sync worker, closing at once a connection whose request was read in full."""

    def handle_request(self, listener: Any, req: Any, client: socket.socket, addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        # Reached only when the response went out in full (gunicorn raises otherwise).
        if not self.cfg.is_ssl and body_read_to_end(req) and nothing_pending(client):
            client.close()
