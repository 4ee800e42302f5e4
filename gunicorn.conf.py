"""gunicorn settings of the API (read automatically by `gunicorn` started in this directory).

    gunicorn billing_project.wsgi:application            # Dockerfile, README
    WEB_CONCURRENCY=4 GUNICORN_BIND=127.0.0.1:8000 gunicorn billing_project.wsgi:application

Command-line options override these. Measured choices (docs/operations.md, "Serving the API"):
* sync workers (bxb's subclass, which closes a connection whose request was read in full at once
  instead of waiting for the client to close first); on this kind of machine a Django JSON endpoint serves ~2,000 requests/s with 2 sync
  workers and a quarter of that under an ASGI server; 2 workers per 2 cores is the default;
* the workers' heartbeat file on /dev/shm (tmpfs) when there is one;
* no gunicorn access log: every API request already writes one JSON line (`bxb.access`, with the
  request id, route, status and duration) at LOG_LEVEL=INFO; a second, plain-text line per request
  only cost CPU. Set GUNICORN_ACCESS_LOG=- to get gunicorn's as well;
* a worker killed for outliving `timeout` writes one JSON line (`event: worker_timeout`, with the
  request id, route and stack) and counts in `bxb_gunicorn_worker_timeouts_total`
  (billing_project/core/gunicorn_hooks.py; docs/operations.md, "A worker timed out").
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gunicorn's sync worker that does not wait for the client's FIN after a request it read in full
# (billing_project/core/gunicorn_worker.py; docs/operations.md, "Serving the API").
worker_class = "billing_project.core.gunicorn_worker.SyncWorker"
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Each worker touches a heartbeat file on every loop (once per request with sync workers): on
# tmpfs that is a memory operation, on an overlay or disk /tmp a metadata write (gunicorn's advice
# for containers). GUNICORN_WORKER_TMP_DIR overrides; without /dev/shm gunicorn's default is kept.
_SHM = "/dev/shm"  # noqa: S108 (gunicorn makes its file there with mkstemp and unlinks it at once)
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (_SHM if os.path.isdir(_SHM) else None)


def worker_abort(worker):
    from billing_project.core.gunicorn_hooks import worker_timed_out

    worker_timed_out(worker)


def child_exit(server, worker):
    from billing_project.core.gunicorn_hooks import child_exited

    child_exited(worker)
