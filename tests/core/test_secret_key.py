"""Without SECRET_KEY and with DEBUG off, nothing serves or signs; offline commands still run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "BXB_ALLOW_INSECURE_KEY"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "billing_project.settings", "DATABASE_URL": "sqlite:///:memory:", **env})
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False
    )


def test_makemigrations_check_runs_without_a_secret_key():
    done = _run("manage.py", "makemigrations", "--check", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "No changes detected" in done.stdout


def test_the_deploy_check_fails_without_a_secret_key():
    done = _run("manage.py", "check", "--deploy")
    assert done.returncode != 0
    assert "bxb.E001" in done.stderr and "SECRET_KEY must be set when DEBUG is off" in done.stderr


@pytest.mark.parametrize("module", ["billing_project.wsgi", "billing_project.asgi"])
def test_the_web_entry_points_refuse_to_start_without_a_secret_key(module):
    done = _run("-c", f"import {module}")
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_celery_worker_start_refuses_without_a_secret_key():
    code = "import django; django.setup(); from celery import signals; signals.worker_init.send(sender=None)"
    done = _run("-c", code)
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_signing_refuses_an_empty_key():
    code = "import django; django.setup(); from django.core import signing; signing.dumps({'a': 1})"
    done = _run("-c", code)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr


def test_with_a_key_everything_starts():
    with_key = _run("manage.py", "check", "--deploy", SECRET_KEY="s3cret-for-the-test")
    assert "bxb.E001" not in with_key.stderr
    assert _run("-c", "import billing_project.wsgi", SECRET_KEY="s3cret-for-the-test").returncode == 0
    assert _run("manage.py", "check", DEBUG="1").returncode == 0
