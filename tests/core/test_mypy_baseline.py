"""scripts/mypy_baseline.py: errors keyed without line numbers, new ones fail, fixed ones must go."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "mypy_baseline.py"
_spec = importlib.util.spec_from_file_location("mypy_baseline", _PATH)
assert _spec is not None and _spec.loader is not None
mypy_baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mypy_baseline)

OUTPUT = """\
app/a.py:10: error: Item "None" of "X | None" has no attribute "y"  [union-attr]
app/a.py:10: note: Left operand is of type "int"
app/a.py:42: error: Item "None" of "X | None" has no attribute "y"  [union-attr]
app/b.py:7:5: error: Name "errors" already defined on line 3  [no-redef]
"""


def test_parse_keys_errors_without_line_numbers_and_counts_repeats():
    counts, raw, other = mypy_baseline.parse(OUTPUT)
    assert counts == Counter(
        {
            'app/a.py: [union-attr] Item "None" of "X | None" has no attribute "y"': 2,
            'app/b.py: [no-redef] Name "errors" already defined on line N': 1,
        }
    )
    assert raw['app/b.py: [no-redef] Name "errors" already defined on line N'] == [OUTPUT.splitlines()[3]]
    assert other == []


def test_an_error_moving_down_its_file_is_still_known():
    baseline, _, _ = mypy_baseline.parse(OUTPUT)
    moved, _, _ = mypy_baseline.parse(OUTPUT.replace("a.py:10:", "a.py:11:").replace("line 3", "line 4"))
    assert mypy_baseline.compare(moved, baseline) == (Counter(), Counter())


def test_one_more_occurrence_of_a_known_error_is_new_and_a_fixed_one_is_reported():
    baseline, _, _ = mypy_baseline.parse(OUTPUT)
    extra = OUTPUT + 'app/a.py:90: error: Item "None" of "X | None" has no attribute "y"  [union-attr]\n'
    current, _, _ = mypy_baseline.parse(extra)
    new, fixed = mypy_baseline.compare(current, baseline)
    assert sum(new.values()) == 1 and not fixed
    fewer, _, _ = mypy_baseline.parse(OUTPUT.splitlines()[0] + "\n")
    new, fixed = mypy_baseline.compare(fewer, baseline)
    assert not new and sorted(fixed.elements()) == sorted(
        [
            'app/a.py: [union-attr] Item "None" of "X | None" has no attribute "y"',
            'app/b.py: [no-redef] Name "errors" already defined on line N',
        ]
    )


def test_check_and_update_against_a_baseline_file(tmp_path, monkeypatch, capsys):
    baseline_file = tmp_path / "mypy-baseline.txt"
    monkeypatch.setattr(mypy_baseline, "BASELINE", baseline_file)
    monkeypatch.setattr(mypy_baseline.read_baseline, "__defaults__", (baseline_file,))
    monkeypatch.setattr(mypy_baseline.write_baseline, "__defaults__", (baseline_file,))
    outputs = iter([OUTPUT, OUTPUT, OUTPUT.splitlines()[0] + "\n", OUTPUT.splitlines()[0] + "\n", OUTPUT])
    monkeypatch.setattr(mypy_baseline, "run_mypy", lambda: (1, next(outputs)))

    assert mypy_baseline.main(["check"]) == 1  # no baseline yet: every error is new
    assert mypy_baseline.main(["update", "--accept-new"]) == 0
    assert len([line for line in baseline_file.read_text().splitlines() if not line.startswith("#")]) == 3
    assert mypy_baseline.main(["check"]) == 1  # two errors were fixed: the file must shrink
    assert "are fixed" in capsys.readouterr().out
    assert mypy_baseline.main(["update"]) == 0
    assert len([line for line in baseline_file.read_text().splitlines() if not line.startswith("#")]) == 1
    assert mypy_baseline.main(["update"]) == 1  # the fixed errors came back: update refuses
    assert "new mypy error" in capsys.readouterr().out


@pytest.mark.parametrize("returncode", [2, 1])
def test_mypy_failing_to_run_fails_the_check(monkeypatch, returncode):
    monkeypatch.setattr(mypy_baseline, "run_mypy", lambda: (returncode, "mypy: can't read file 'x'\n"))
    assert mypy_baseline.main(["check"]) == 2
