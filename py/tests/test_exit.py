"""No crash at interpreter exit after async use (STYLE.md §10, PyO3/pyo3-async-runtimes#40):
a short asyncio script, 20 times, each in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import PhotoServer

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import avatarium

    async def main(data_dir, url, port):
        client = avatarium.Client(data_dir=data_dir, allow_loopback=True, fetch_allowed_ports=[port])
        a = client.accounts
        results = await asyncio.gather(
            a.import_profile_photo_async(url, uid="x", publish=True),
            *(a.get_policies_async() for _ in range(20)),
            client.call_async("accounts.getAccountInfo", {"UID": "nobody"}),
        )
        assert results[0].published, results[0]
        # left running on purpose: the interpreter exits with work still in flight
        asyncio.get_running_loop().create_task(a.import_profile_photo_async(url, uid="y"))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def test_async_script_exits_cleanly_20_times(tmp_path: Path, server: PhotoServer) -> None:
    failures = []
    for i in range(20):
        p = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path / f"d{i}"), server.url("photo.jpg"), str(server.port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if p.returncode != 0:
            failures.append((i, p.returncode, p.stderr[-2000:]))
    assert not failures, failures


def test_calls_after_shutdown_raise_instead_of_hanging(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        import avatarium
        from avatarium import _native
        client = avatarium.Client(data_dir=sys.argv[1])
        _native._shutdown()
        _native._shutdown()  # idempotent
        for call in (client.accounts.get_policies, lambda: asyncio.run(client.accounts.get_policies_async())):
            try:
                call()
            except RuntimeError as e:
                assert "shut down" in str(e), e
            else:
                raise SystemExit("no error after shutdown")
        print("ok")
        """
    )
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_logging_is_off_unless_asked(tmp_path: Path) -> None:
    """AVATARIUM_LOG (a tracing filter) turns the engine's logs on, on stderr."""
    import os

    photo = Path(__file__).resolve().parents[2] / "conformance" / "files" / "photo.png"
    script = (
        "import sys, avatarium\n"
        "with avatarium.Client(data_dir=sys.argv[1]) as c:\n"
        "    c.accounts.set_profile_photo(open(sys.argv[2], 'rb').read(), uid='log')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AVATARIUM_LOG"}
    quiet = subprocess.run([sys.executable, "-c", script, str(tmp_path / "a"), str(photo)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = subprocess.run([sys.executable, "-c", script, str(tmp_path / "b"), str(photo)],
                          env={**env, "AVATARIUM_LOG": "info"}, capture_output=True, text=True, timeout=60)
    assert loud.returncode == 0 and "photo stored" in loud.stderr, loud.stderr
