"""The docs a newcomer reads are in the repository and say where things are.

Every document a tracked file cites (`docs/billing-semantics.md §6.2`, `README.md`) exists in the
repository, and every cited section exists in it; no tracked file points at an absolute path on
someone's machine; the "where is X" table of docs/architecture.md, and every module path the docs
name, exist.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Spelled in pieces so that this file does not match its own checks.
MACHINE_PATH = re.compile(r"(?<![\w.-])/(?:" + "work|home|root|Users" + r")/[\w.-]")
OUTSIDE_NOTES = re.compile(
    "lago-" + "semantics|lago-" + r"api\.md|shared/" + "reference|billing-" + "pitfalls|machine-" + "notes"
)

DOC_REFERENCE = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
SECTION_CITATION = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)*[\w.-]+\.md),?\s*((?:§[\d.]*\d(?:[\s,;–-]|and|to)*)+)")
SECTION_NUMBER = re.compile(r"§(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#+\s+(\d+(?:\.\d+)*)[.\s]", re.MULTILINE)


@cache
def tracked_files() -> tuple[Path, ...]:
    """The repository's tracked files (git), else every file outside the usual untracked dirs."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        paths = [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "node_modules", "__pycache__", "artifacts", "media", "staticfiles"}
        paths = [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    return tuple(p for p in paths if p.is_file())


@cache
def texts() -> dict[Path, str]:
    result = {}
    for path in tracked_files():
        try:
            result[path] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files (fonts, images)
    return result


def resolve(reference: str, citing: Path) -> Path | None:
    """The tracked file a reference names: from the root, from the citing file, or by its name."""
    for candidate in (ROOT / reference, citing.parent / reference):
        if candidate.is_file():
            return candidate.resolve()
    if "/" not in reference:
        named = [p for p in tracked_files() if p.name == reference]
        if len(named) == 1:
            return named[0].resolve()
    return None


def where(path: Path, text: str, index: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, index) + 1}"


def test_every_cited_document_is_in_the_repository():
    missing = [
        f"{where(path, text, match.start())}: {match.group(1)}"
        for path, text in texts().items()
        for match in DOC_REFERENCE.finditer(text)
        if resolve(match.group(1), path) is None
    ]
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)


def test_every_cited_section_exists():
    sections: dict[Path, set[str]] = {}
    missing = []
    for path, text in texts().items():
        for match in SECTION_CITATION.finditer(text):
            document = resolve(match.group(1), path)
            if document is None:
                continue  # reported by the test above
            if document not in sections:
                sections[document] = set(HEADING.findall(document.read_text(encoding="utf-8")))
            for number in SECTION_NUMBER.findall(match.group(2)):
                if number not in sections[document]:
                    missing.append(f"{where(path, text, match.start())}: {match.group(1)} §{number}")
    assert not missing, "sections cited but not in the document:\n" + "\n".join(missing)


def test_no_machine_paths_and_no_outside_notes():
    found = [
        f"{where(path, text, match.start())}: {match.group(0)}"
        for path, text in texts().items()
        for pattern in (MACHINE_PATH, OUTSIDE_NOTES)
        for match in pattern.finditer(text)
    ]
    assert not found, "absolute machine paths or notes outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("rule (docs/billing-semantics.md §6.2, §5.6 and §13)", ["6.2", "5.6", "13"]),
        ("see docs/invoicing.md\n  §4–§9 below", ["4", "9"]),
        ("docs/credits.md and more", []),
    ],
)
def test_section_citations_are_read_as_written(text, cited):
    found = [number for match in SECTION_CITATION.finditer(text) for number in SECTION_NUMBER.findall(match.group(2))]
    assert found == cited


def test_the_checks_catch_what_they_look_for():
    elsewhere = "notes/elsewhere" + ".md"  # in pieces: this file is checked too
    found = DOC_REFERENCE.search(f"see {elsewhere}")
    assert found is not None and found.group(1) == elsewhere
    assert DOC_REFERENCE.search("https://example.com/README.md") is None
    assert MACHINE_PATH.search("at /" + "home/someone/bxb/docs") is not None
    assert MACHINE_PATH.search("relative/home/x and /srv/bxb and /tmp/x") is None
    assert resolve("docs/nothing-here" + ".md", ROOT / "README.md") is None


def where_is_table() -> list[tuple[str, list[str]]]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## Where is X")
    end = text.index("\n## ", start + 1)
    rows = []
    for line in text[start:end].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not line.startswith("|") or set(cells[0]) <= {"-", " "} or cells[0] == "what":
            continue
        rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return rows


def test_the_where_is_x_table_names_paths_that_exist():
    rows = where_is_table()
    assert len(rows) >= 16
    wanted = {"billing run", "pricing", "rounding", "ingestion", "aggregation", "numbering", "audit", "webhooks",
              "payments", "credits", "periods", "ClickHouse", "PDFs", "console", "ops commands", "beat schedule"}  # fmt: skip
    topics = " ".join(topic for topic, _ in rows)
    assert all(word in topics for word in wanted), wanted - {w for w in wanted if w in topics}
    absent = []
    for topic, paths in rows:
        assert paths, topic
        for entry in paths:
            relative = entry.split("::")[0].rstrip("/")
            if not (ROOT / relative).exists():
                absent.append(f"{topic}: {entry}")
    assert not absent, "paths in docs/architecture.md's table that do not exist:\n" + "\n".join(absent)


# Paths a doc mentions that are not files of this repository on purpose.
NOT_REPOSITORY_PATHS = {
    "admin/base_site.html",  # Django's template name, overridden by console/templates/admin/base_site.html
    "api/serializers.py",  # "each app's api/serializers.py"
    "payments/providers/adyen.py",  # how a new provider would be added
}
DOC_PATH = re.compile(r"`((?:[a-z_]+/)+[\w.-]+\.(?:py|html|md|txt|toml|sh|css))`")


def test_module_paths_in_the_docs_exist():
    docs = [ROOT / "README.md", ROOT / "bench" / "RESULTS.md", *sorted((ROOT / "docs").glob("*.md"))]
    absent = [
        f"{where(path, text, match.start())}: {match.group(1)}"
        for path in docs
        for text in [path.read_text(encoding="utf-8")]
        for match in DOC_PATH.finditer(text)
        if match.group(1) not in NOT_REPOSITORY_PATHS and not (ROOT / match.group(1)).exists()
    ]
    assert not absent, "paths named in the docs that do not exist:\n" + "\n".join(absent)
