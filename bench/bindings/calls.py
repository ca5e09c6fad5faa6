"""The Python side of the binding-overhead bench (bench/README.md §3, bench/bindings.sh).

    python calls.py URL CALLS WARMUP [--async] [--policies]

N sequential imports by URL through the public API: `client.accounts.import_profile_photo`
(or, with --async, `await ...import_profile_photo_async` in one asyncio loop). With
--policies the call is `get_policies()` instead (no photo: the binding's fixed cost). Prints
the same JSON line as avatarium-bench-calls: {"lang", "wall_us": [one per call], "cpu_s"}. A
failed call raises (the typed methods raise ProfilePhotoError): the process exits non-zero.
"""

import asyncio
import json
import sys
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit

import avatarium


def main() -> None:
    url, calls, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    flags = set(sys.argv[4:])
    if not flags <= {"--async", "--policies"}:
        raise SystemExit(__doc__)
    use_async, policies = "--async" in flags, "--policies" in flags
    with tempfile.TemporaryDirectory() as data, avatarium.Client(
        # The same configuration keys as the Rust and Node runs.
        data_dir=data,
        allow_loopback=True,
        fetch_allowed_ports=[urlsplit(url).port],
    ) as client:
        accounts = client.accounts

        # One Python-level call around the binding's method, the same in every mode.
        def call(uid: str) -> Any:
            if policies:
                return accounts.get_policies()
            return accounts.import_profile_photo(url, uid=uid, publish=True)

        def call_async(uid: str) -> Any:
            if policies:
                return accounts.get_policies_async()
            return accounts.import_profile_photo_async(url, uid=uid, publish=True)

        def check(result: Any) -> None:
            # A failure raises; an import must also come back published.
            if not policies and result.photo_url is None:
                raise SystemExit(f"not published: {result!r}")

        wall_us: list[float] = []
        if use_async:

            async def loop(phase: str, n: int) -> None:
                for i in range(n):
                    uid = f"{phase}-{i}"
                    t = time.perf_counter_ns()
                    r = await call_async(uid)
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
                check(call(f"warmup-{i}"))
            cpu0 = time.process_time()
            for i in range(calls):
                uid = f"run-{i}"
                t = time.perf_counter_ns()
                r = call(uid)
                dt = time.perf_counter_ns() - t
                check(r)
                wall_us.append(dt / 1e3)
            cpu_s = time.process_time() - cpu0
    lang = "python-async" if use_async else "python"
    print(json.dumps({"lang": lang, "wall_us": wall_us, "cpu_s": cpu_s}))


if __name__ == "__main__":
    main()
