"""close() with work in flight: the calls end at once with BusyError ("The client is
closed") and close() does not wait for the decode to run to its end (issue 14)."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import avatarium


def black_png(width: int, height: int) -> bytes:
    """A legal RGB PNG of black pixels: small on the wire, ~150 MB of pixels to decode. Every
    row is Paeth-filtered (the costliest filter to undo), so the decode takes long enough on
    a quick machine for close() to find it in flight."""
    row = b"\x04" + bytes(width * 3)
    z = zlib.compressobj(6)
    parts = [z.compress(row) for _ in range(height)]
    parts.append(z.flush())

    def png_chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")


def test_close_ends_a_decode_in_flight_promptly(settings: dict[str, Any], tmp_path: Path) -> None:
    big = black_png(7000, 7000)
    c = avatarium.Client(**{**settings, "max_photo_bytes": 6_291_456, "max_concurrent_imports": 1})
    outcomes: list[tuple[str, float]] = []
    lock = threading.Lock()

    def upload(i: int) -> None:
        try:
            c.accounts.set_profile_photo(big, uid=f"u{i}")
            outcome = "ok"
        except avatarium.BusyError as e:
            outcome = f"busy: {e}"
        except Exception as e:  # noqa: BLE001 (reported by the assertion below)
            outcome = f"other: {e!r}"
        with lock:
            outcomes.append((outcome, time.monotonic()))

    # One decodes (a 49 MP photo), two wait for the single slot.
    threads = [threading.Thread(target=upload, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.15)
    assert not outcomes, outcomes
    closing = time.monotonic()
    c.close()
    took = time.monotonic() - closing
    for t in threads:
        t.join(timeout=10)
    answered = max(at for _, at in outcomes) - closing
    print(f"close with a 49 MP decode in flight: {took * 1000:.0f} ms; last call answered after {answered * 1000:.0f} ms")
    assert len(outcomes) == 3
    assert all(o.startswith("busy") and "The client is closed" in o for o, _ in outcomes), outcomes
    assert answered < 1.0, answered
    # Bounded by close's own wait (1 s) whatever the decoder does.
    assert took < 1.5, took
    assert c.closed
