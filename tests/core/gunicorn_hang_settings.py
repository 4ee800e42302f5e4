"""Settings for tests/core/test_gunicorn_timeout.py: the test settings plus a middleware that makes
a request hang inside Django (after the request id is bound) when it carries `X-Test-Hang`."""

import time

from billing_project.test_settings import *  # noqa: F403
from billing_project.test_settings import MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "tests.core.gunicorn_hang_settings.HangMiddleware"]


class HangMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.headers.get("X-Test-Hang"):
            time.sleep(3600)
        return self.get_response(request)
