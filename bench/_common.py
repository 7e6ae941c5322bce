"""What every benchmark script shares: nearest-rank percentiles and "run, then print or dump JSON".

Dependency-free on purpose: scripts that measure the bare product (vault, ack latency) import it
without pulling in the test fakes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_and_report(
    bench: Callable[[object], Awaitable[dict]], args, print_report: Callable[[dict], None]
) -> int:
    """Run `bench(args)` on a fresh loop; print the report, or JSON with `--json`."""
    logging.basicConfig(level=logging.WARNING)
    report = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    return 0
