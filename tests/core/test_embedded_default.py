"""The README's first command runs on the embedded default: SQLite, eager tasks, demo data.
`./dev run` migrates a fresh SQLite file and seeds the demo; this does the same in a subprocess (the
suite itself runs on PostgreSQL), so a migration that only PostgreSQL accepts (a collation, a
PostgreSQL-only statement not guarded by its vendor) fails here instead of on a newcomer's machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_migrate_and_seed_the_demo_on_sqlite(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "CLICKHOUSE"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'bxb.sqlite3'}",
        DJANGO_SETTINGS_MODULE="billing_project.settings",
        DEBUG="1",
        LOG_LEVEL="WARNING",
    )
    env.pop("REDIS_URL", None)
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-4000:])
    assert (tmp_path / "bxb.sqlite3").stat().st_size > 0
