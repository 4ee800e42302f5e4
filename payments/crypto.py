"""Encryption of provider credentials at rest (Fernet).

The key is `settings.PAYMENTS_ENCRYPTION_KEY` (a Fernet key) when set, otherwise derived from
`SECRET_KEY` with SHA-256. Rotating SECRET_KEY without setting PAYMENTS_ENCRYPTION_KEY makes stored
secrets unreadable: set PAYMENTS_ENCRYPTION_KEY in production.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    key = getattr(settings, "PAYMENTS_ENCRYPTION_KEY", "") or ""
    if key:
        return Fernet(key.encode() if isinstance(key, str) else key)
    digest = hashlib.sha256(("bxb-payments:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    return _fernet().decrypt(token.encode()).decode()
