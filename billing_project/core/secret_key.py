"""Refuse to serve without a SECRET_KEY when DEBUG is off.

The settings leave `SECRET_KEY` empty in that case instead of raising at import, so offline
commands that never sign anything (`makemigrations --check`, `collectstatic`, `showmigrations`)
still run in CI and build steps. Everything that could serve or sign refuses instead:

* the WSGI/ASGI entry points and the Celery worker and beat call `require_secret_key()` at start;
* the deploy check `bxb.E001` fails `manage.py check --deploy`;
* any other use of the key raises Django's own ImproperlyConfigured ("must not be empty").
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MESSAGE = "SECRET_KEY must be set when DEBUG is off"


def _missing() -> bool:
    try:
        return not settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to read an empty key
        return True


def require_secret_key() -> None:
    if _missing():
        raise ImproperlyConfigured(MESSAGE)


def check_secret_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if _missing():
        return [checks.Error(MESSAGE, hint="Set SECRET_KEY in the environment (see .env.example).", id="bxb.E001")]
    return []
