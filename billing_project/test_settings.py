"""Settings for the test suite: the normal settings with a fixed key and fast password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("ALLOWED_HOSTS", "*")

from billing_project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
# Outbound webhooks in tests go to receivers on loopback.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
# Staff in tests sign in with a password (the browser tests' logins); the two-factor tests turn
# ADMIN_OTP_REQUIRED on themselves. Lockout and two-factor for enrolled staff stay as in production.
ADMIN_OTP_REQUIRED = False
# API logs are off (statement-count tests stay exact); tests/audit/test_api_logs.py turns them on, inline.
API_LOGS_WRITE = "off"
