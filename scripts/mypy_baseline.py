"""mypy against a baseline that only shrinks.

    python scripts/mypy_baseline.py            run mypy, fail on any error not in mypy-baseline.txt
                                               and on any baselined error that is gone
    python scripts/mypy_baseline.py update     after fixing errors: drop the fixed ones from the file
    python scripts/mypy_baseline.py update --accept-new
                                               also add today's new errors (only when code moved and
                                               its known errors moved with it; say so in the commit)

`mypy-baseline.txt` lists each known error once per occurrence as `path: [code] message`, without
line numbers, so editing a file elsewhere does not break the check; "on line 12" inside a message
becomes "on line N" for the same reason. Notes are ignored. The modules checked strictly in
pyproject.toml (the pure cores) never appear in the baseline: an error there is always new.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
MYPY = [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty", "--show-error-codes", "."]
HEADER = (
    "# mypy errors known when the check was introduced, one line per occurrence: path: [code] message.\n"
    "# This file only shrinks. After fixing errors run `python scripts/mypy_baseline.py update`;\n"
    "# never add lines by hand (see docs/operations.md, Type checking).\n"
)
# path:line[:column]: error: message  [code]
_ERROR = re.compile(
    r"^(?P<path>[^:\s][^:]*):(?P<line>\d+)(?::\d+)?: error: (?P<message>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)
_LINE_REFERENCE = re.compile(r"\bline \d+\b")


def error_key(path: str, code: str | None, message: str) -> str:
    """The line-number-free identity of an error."""
    return f"{path}: [{code or 'misc'}] {_LINE_REFERENCE.sub('line N', message.strip())}"


def parse(output: str) -> tuple[Counter[str], dict[str, list[str]], list[str]]:
    """mypy's output as (count per key, the raw lines of each key, lines that are not errors or notes)."""
    counts: Counter[str] = Counter()
    raw: dict[str, list[str]] = {}
    other: list[str] = []
    for line in output.splitlines():
        match = _ERROR.match(line)
        if match:
            key = error_key(match["path"], match["code"], match["message"])
            counts[key] += 1
            raw.setdefault(key, []).append(line)
        elif line.strip() and ": note: " not in line:
            other.append(line)
    return counts, raw, other


def read_baseline(path: Path = BASELINE) -> Counter[str]:
    if not path.exists():
        return Counter()
    lines = path.read_text(encoding="utf-8").splitlines()
    return Counter(line for line in lines if line.strip() and not line.startswith("#"))


def write_baseline(counts: Counter[str], path: Path = BASELINE) -> None:
    lines = sorted(counts.elements())
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")


def run_mypy() -> tuple[int, str]:
    completed = subprocess.run(MYPY, cwd=ROOT, capture_output=True, text=True, check=False)
    return completed.returncode, completed.stdout + completed.stderr


def compare(current: Counter[str], baseline: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    """(new errors, fixed errors) as multisets."""
    return current - baseline, baseline - current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["check", "update"], default="check")
    parser.add_argument("--accept-new", action="store_true", help="with update: also baseline new errors")
    args = parser.parse_args(argv)

    returncode, output = run_mypy()
    current, raw, other = parse(output)
    if returncode not in (0, 1) or (returncode == 1 and not current):
        print(output, end="")
        print(f"mypy failed to run (exit {returncode})", file=sys.stderr)
        return 2
    for line in other:
        print(line)
    baseline = read_baseline()
    new, fixed = compare(current, baseline)

    if args.command == "update":
        if new and not args.accept_new:
            _print_new(new, raw)
            print("\nNot updating: fix these, or pass --accept-new if they only moved with their code.")
            return 1
        kept = current if args.accept_new else baseline & current
        write_baseline(kept)
        print(
            f"mypy-baseline.txt: {sum(baseline.values())} -> {sum(kept.values())} errors "
            f"({sum(fixed.values())} fixed, {sum(new.values()) if args.accept_new else 0} added)"
        )
        return 0

    status = 0
    if new:
        _print_new(new, raw)
        status = 1
    if fixed:
        print(f"\n{sum(fixed.values())} error(s) in mypy-baseline.txt are fixed; remove them with")
        print("`python scripts/mypy_baseline.py update` and commit the file:")
        for key in sorted(fixed.elements()):
            print(f"  {key}")
        status = 1
    if status == 0:
        print(f"mypy: {sum(current.values())} known errors (mypy-baseline.txt), none new")
    return status


def _print_new(new: Counter[str], raw: dict[str, list[str]]) -> None:
    print(f"{sum(new.values())} new mypy error(s), not in mypy-baseline.txt:")
    for key in sorted(new):
        # Every occurrence of the key is shown with its line; the newest one is among them.
        for line in raw.get(key, [key]):
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
