"""The Python side of the binding-overhead bench (bench/README.md §3, bench/bindings.sh).

    python calls.py URL CALLS WARMUP [--async]

N sequential imports by URL through the public API: `client.accounts.import_profile_photo`
(or, with --async, `await ...import_profile_photo_async` in one asyncio loop). Prints the
same JSON line as pp-bench-calls: {"lang", "wall_us": [one per call], "cpu_s"}. A failed
call raises (the typed methods raise ProfilePhotoError), so the process exits non-zero.
"""

import asyncio
import json
import sys
import tempfile
import time
from urllib.parse import urlsplit

import profile_photo


def main() -> None:
    url, calls, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    use_async = "--async" in sys.argv[4:]
    with tempfile.TemporaryDirectory() as data, profile_photo.Client(
        # The same configuration keys as the Rust and Node runs.
        data_dir=data,
        allow_loopback=True,
        fetch_allowed_ports=[urlsplit(url).port],
    ) as client:
        accounts = client.accounts
        wall_us: list[float] = []

        def check(result: profile_photo.ImportResult) -> None:
            # Raising is how a failure shows; a success must also be published.
            if result.photo_url is None:
                raise SystemExit(f"not published: {result!r}")

        if use_async:

            async def loop(phase: str, n: int) -> None:
                for i in range(n):
                    uid = f"{phase}-{i}"
                    t = time.perf_counter_ns()
                    r = await accounts.import_profile_photo_async(url, uid=uid, publish=True)
                    dt = time.perf_counter_ns() - t
                    check(r)
                    if phase == "run":
                        wall_us.append(dt / 1e3)

            async def both() -> float:
                await loop("warmup", warmup)
                cpu0 = time.process_time()
                await loop("run", calls)
                return time.process_time() - cpu0

            cpu_s = asyncio.run(both())
        else:
            for i in range(warmup):
                check(accounts.import_profile_photo(url, uid=f"warmup-{i}", publish=True))
            cpu0 = time.process_time()
            for i in range(calls):
                uid = f"run-{i}"
                t = time.perf_counter_ns()
                r = accounts.import_profile_photo(url, uid=uid, publish=True)
                dt = time.perf_counter_ns() - t
                check(r)
                wall_us.append(dt / 1e3)
            cpu_s = time.process_time() - cpu0
    lang = "python-async" if use_async else "python"
    print(json.dumps({"lang": lang, "wall_us": wall_us, "cpu_s": cpu_s}))


if __name__ == "__main__":
    main()
