"""Throughput of the pure pricing engine and the expression language (no database, no Django setup).

Run: .venv/bin/python bench/pricing.py [--seconds 1.0]
Prints calls per second for each charge model and for parsing/evaluating a metric expression.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import expressions
from catalog.expressions.parser import parse_tree
from catalog.pricing import Usage, price, validate_properties

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": 20, "per_unit_amount": "5", "flat_amount": "3"},
        {"from_value": 21, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}
CASES: dict[str, tuple[str, dict, Usage]] = {
    "standard": ("standard", {"amount": "0.05"}, Usage(units=D("12345.678"))),
    "graduated (3 tiers)": ("graduated", GRADUATED, Usage(units=D(21))),
    "volume (3 tiers)": (
        "volume",
        {"volume_ranges": [{**r, "per_unit_amount": "2"} for r in GRADUATED["graduated_ranges"]]},
        Usage(units=D(150)),
    ),
    "package": ("package", {"amount": "100", "package_size": 10, "free_units": 10}, Usage(units=D(121))),
    "percentage (free units, 4 events)": (
        "percentage",
        {"rate": "1.2", "fixed_amount": "0.10", "free_units_per_events": 3, "free_units_per_total_aggregation": "500"},
        Usage(units=D(450), events_count=4, event_values=(D(200), D(100), D(100), D(50))),
    ),
    "percentage (min/max, 100 events)": (
        "percentage",
        {"rate": "2.99", "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"},
        Usage(units=D(5000), events_count=100, event_values=tuple(D(50) for _ in range(100))),
    ),
    "graduated_percentage": (
        "graduated_percentage",
        {
            "graduated_percentage_ranges": [
                {"from_value": 0, "to_value": 1000, "rate": "1", "flat_amount": "200"},
                {"from_value": 1001, "to_value": None, "rate": "2", "flat_amount": "300"},
            ]
        },
        Usage(units=D(5050)),
    ),
}


def rate(function: Callable[[], object], seconds: float) -> float:
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            function()
        calls += 100
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    seconds = parser.parse_args().seconds
    print(f"{'operation':45} {'calls/s':>12}")
    for name, (model, properties, usage) in CASES.items():
        print(f"{'price: ' + name:45} {rate(lambda m=model, p=properties, u=usage: price(m, p, u), seconds):12,.0f}")
    print(
        f"{'validate_properties: graduated':45} {rate(lambda: validate_properties('graduated', GRADUATED), seconds):12,.0f}"
    )
    text = "round(event.properties.a * event.properties.b / 1000, 2)"
    event = {"code": "c", "timestamp": 1, "properties": {"a": "2.5", "b": 4000}}
    parsed = expressions.parse(text)
    print(f"{'expression: parse (uncached)':45} {rate(lambda: parse_tree(text), seconds):12,.0f}")
    print(f"{'expression: evaluate (parsed)':45} {rate(lambda: parsed.evaluate(event), seconds):12,.0f}")


if __name__ == "__main__":
    main()
