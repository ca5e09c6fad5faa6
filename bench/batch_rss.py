"""Batch machinery alone, through the Python face: N generated rows that are refused
without a fetch (a port the fetcher does not allow), so what is measured is reading rows,
planning and recording them — not the pipeline. Prints rows/s and the process's RSS as the
run goes: RSS must not grow with the input's length.

    python bench/batch_rss.py [ROWS] [CONCURRENCY]     # default 1000000 32
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Iterator

import avatarium


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rows(n: int) -> Iterator[tuple[str, str]]:
    for i in range(n):
        yield (f"user{i}", f"http://127.0.0.1:1/{i}.jpg")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    with tempfile.TemporaryDirectory() as d, avatarium.Client(data_dir=d, allow_loopback=True) as client:
        start = time.monotonic()
        step = max(n // 10, 1)
        done = 0
        for _ in client.import_batch(rows(n), concurrency=concurrency):
            done += 1
            if done % step == 0:
                t = time.monotonic() - start
                print(f"{done:>9} rows  {done / t:8.0f} rows/s  RSS {rss_mb():6.1f} MB", flush=True)
        t = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"total {done} rows in {t:.1f} s ({done / t:.0f} rows/s), peak RSS {peak:.1f} MB")


if __name__ == "__main__":
    main()
