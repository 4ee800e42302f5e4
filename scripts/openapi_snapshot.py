"""The API's OpenAPI schema against its checked-in snapshot, docs/openapi.yaml.

    python scripts/openapi_snapshot.py            generate the schema (validated, warnings fail) and
                                                  fail when it differs from docs/openapi.yaml
    python scripts/openapi_snapshot.py update     write the generated schema to docs/openapi.yaml

A refactor of serializers or views can change what the API documents (a field renamed, a type
widened, a required field dropped) while every test passes. The snapshot makes such a change visible:
`./dev check` and CI fail on any difference, and the change lands only with an updated snapshot in
the same commit, where review sees it. The schema does not depend on the database or the
environment's services, so the same code always generates the same file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "docs" / "openapi.yaml"
REFRESH = ".venv/bin/python scripts/openapi_snapshot.py update"
DIFF_LINES = 60


def generate() -> str:
    """The schema as `manage.py spectacular` writes it, validated, with warnings as errors."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "openapi.yaml"
        command = [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)]
        env = {**os.environ, "DEBUG": "1"}
        completed = subprocess.run(command, cwd=ROOT, env=env, check=False)
        if completed.returncode != 0:
            raise SystemExit(completed.returncode)
        return out.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["check", "update"], default="check")
    args = parser.parse_args(argv)

    current = generate()
    if args.command == "update":
        SNAPSHOT.write_text(current, encoding="utf-8")
        print(f"{SNAPSHOT.relative_to(ROOT)} written ({len(current.splitlines())} lines); commit it with the change")
        return 0

    snapshot = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if current == snapshot:
        print(f"OpenAPI schema matches {SNAPSHOT.relative_to(ROOT)}")
        return 0
    diff = list(
        difflib.unified_diff(
            snapshot.splitlines(), current.splitlines(), "docs/openapi.yaml (snapshot)", "generated", lineterm=""
        )
    )
    if not snapshot:
        print("docs/openapi.yaml, the snapshot of the API's OpenAPI schema, is missing")
    else:
        print("The generated OpenAPI schema differs from docs/openapi.yaml (the API's documented shape changed):")
    for line in diff[:DIFF_LINES]:
        print(f"  {line}")
    if len(diff) > DIFF_LINES:
        print(f"  ... {len(diff) - DIFF_LINES} more diff lines")
    print(f"\nIf the change is intended, refresh the snapshot and commit it with the change:\n  {REFRESH}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
