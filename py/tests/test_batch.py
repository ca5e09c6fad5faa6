"""``client.import_batch``: results per row, resumption, retry_failed, shards, lazy input,
stopping (break, close, Ctrl-C, a failing progress callback), bad rows, and the async form.
Real loopback origin (conftest), real SQLite store."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import avatarium
from avatarium import BatchProgress, RowResult

from .conftest import PhotoServer


def rows_of(server: PhotoServer, tag: str, n: int) -> list[tuple[str, str]]:
    """``n`` rows, each its own URL (so the origin counts each row's fetches)."""
    return [(f"{tag}{i}", server.url(f"photo.jpg?{tag}{i}")) for i in range(n)]


def test_every_row_gets_a_result_and_photos_are_published(client: avatarium.Client, server: PhotoServer) -> None:
    rows: list[Any] = rows_of(server, "pub", 5)
    rows.append({"UID": "exp", "profile": {"photoURL": server.url("photo.png?exp")}})
    rows.append({"UID": "plain", "URL": server.url("photo.gif?plain")})
    got = {r.uid: r for r in client.import_batch(rows, concurrency=3)}
    assert set(got) == {f"pub{i}" for i in range(5)} | {"exp", "plain"}
    for r in got.values():
        assert isinstance(r, RowResult)
        assert r.ok and r.error_code == 0 and r.details is None
        assert r.attempts == 1 and not r.resumed
        assert r.response is not None and r.response["errorCode"] == 0 and r.response["photoURL"]
    assert sorted(r.row for r in got.values()) == list(range(7))
    assert client.accounts.get_account_info(uid="exp").photo_url is not None


def test_no_publish_leaves_photos_pending(client: avatarium.Client, server: PhotoServer) -> None:
    [r] = list(client.import_batch([("np", server.url("photo.jpg?np"))], publish=False))
    assert r.ok and r.response is not None and "photoURL" not in r.response
    assert client.accounts.get_account_info(uid="np").photo_url is None


def test_resume_skips_done_rows_and_retry_failed_reruns_only_failures(
    client: avatarium.Client, server: PhotoServer
) -> None:
    rows = rows_of(server, "res", 4) + [("gone", server.url("missing.jpg?res"))]
    first = {r.uid: r for r in client.import_batch(rows, input_key="export-1")}
    assert [u for u, r in first.items() if not r.ok] == ["gone"]
    assert first["gone"].attempts == 1, "a 4xx is never retried"
    assert server.fetches("photo.jpg?res") == 4

    again = {r.uid: r for r in client.import_batch(rows, input_key="export-1")}
    assert all(r.resumed and r.attempts == 0 and r.response is None for r in again.values())
    assert again["gone"].error_code == first["gone"].error_code
    assert server.fetches("photo.jpg?res") == 4, "a done row is never fetched again"

    retried = {r.uid: r for r in client.import_batch(rows, input_key="export-1", retry_failed=True)}
    assert not retried["gone"].resumed and retried["gone"].attempts == 1
    assert all(r.resumed for u, r in retried.items() if u != "gone")
    assert server.fetches("photo.jpg?res") == 4

    # Without a key nothing is resumed: each run is its own.
    fresh = list(client.import_batch(rows[:1]))
    assert not fresh[0].resumed


def test_shards_split_the_input(client: avatarium.Client, server: PhotoServer) -> None:
    rows = rows_of(server, "sh", 7)
    seen: list[int] = []
    for shard in [(1, 3), "2/3", (3, 3)]:
        part = sorted(r.row for r in client.import_batch(rows, input_key="sharded", shard=shard))
        seen += part
    assert sorted(seen) == list(range(7))
    assert sorted(r.row for r in client.import_batch(rows, input_key="x", shard=(2, 3))) == [1, 4]
    with pytest.raises(avatarium.InvalidParameterError):
        client.import_batch(rows, shard=(4, 3))


def test_csv_dict_rows_use_the_clis_column_names(client: avatarium.Client, server: PhotoServer) -> None:
    """``csv.DictReader`` rows of a file the CLI takes: the same header names, any case."""
    import csv
    import io

    text = f"uid,photoURL\ncsv0,{server.url('photo.jpg?csv0')}\n"
    results = list(client.import_batch(csv.DictReader(io.StringIO(text))))
    assert [(r.uid, r.ok) for r in results] == [("csv0", True)]


def test_bad_rows_fail_alone_with_400006(client: avatarium.Client, server: PhotoServer) -> None:
    rows: list[Any] = [
        42,
        ("only-uid",),
        {"UID": "weird", "URL": {1, 2}},
        ("ok", server.url("photo.jpg?bad")),
        ("ssrf", "http://169.254.169.254/latest/meta-data"),
    ]
    got = {r.row: r for r in client.import_batch(rows)}  # type: ignore[arg-type]
    for i in (0, 1, 2):
        assert got[i].error_code == 400006, got[i]
        assert got[i].attempts == 0
    assert got[3].ok
    assert not got[4].ok and got[4].attempts == 1


def test_a_lazy_generator_is_never_read_far_ahead(client: avatarium.Client) -> None:
    """20,000 rows (refused without a fetch: a port the fetcher does not allow), pulled only
    as the batch has room: rows read ahead of results stay bounded, whatever the length."""
    n = 20_000
    produced = 0

    def rows() -> Iterator[tuple[str, str]]:
        nonlocal produced
        for i in range(n):
            produced += 1
            yield (f"lazy{i}", f"http://127.0.0.1:1/{i}.jpg")

    ahead = 0
    done = 0
    for r in client.import_batch(rows(), concurrency=8):
        done += 1
        ahead = max(ahead, produced - done)
        assert not r.ok
    assert done == n
    # The rows channel (512), a block being looked up (256), those in flight and results
    # not yet taken: a few hundred, never the input.
    assert ahead < 1500, ahead


def test_break_stops_the_batch(client: avatarium.Client, server: PhotoServer) -> None:
    rows = rows_of(server, "brk", 60)
    with client.import_batch(rows, input_key="brk", concurrency=2, per_host=2) as batch:
        for _ in batch:
            break
    # A request already handed to the HTTP connection when the batch was closed may still
    # reach the origin a moment later; a batch still running would start row after row.
    time.sleep(0.3)
    fetched = server.fetches("photo.jpg?brk")
    time.sleep(0.5)
    assert server.fetches("photo.jpg?brk") == fetched, "no row starts after the loop is left"
    assert fetched < 60
    # The rest comes with a rerun; rows dropped in flight run again.
    rest = list(client.import_batch(rows, input_key="brk"))
    assert len(rest) == 60 and all(r.ok for r in rest)
    assert sum(1 for r in rest if r.resumed) >= 1


def test_stop_lets_rows_in_flight_finish(client: avatarium.Client, server: PhotoServer) -> None:
    rows = rows_of(server, "stp", 40)
    batch = client.import_batch(rows, input_key="stp", concurrency=2)
    first = next(batch)
    batch.stop()
    rest = list(batch)
    assert first.ok and all(r.ok for r in rest)
    assert 1 + len(rest) < 40
    assert batch.progress.done == 1 + len(rest)


def test_stop_over_an_endless_input_stops_reading_it(client: avatarium.Client) -> None:
    """After stop() the batch takes no row: the loop ends, having read a bounded number."""
    produced = 0

    def endless() -> Iterator[tuple[str, str]]:
        nonlocal produced
        while True:
            produced += 1
            yield (f"end{produced}", f"http://127.0.0.1:1/{produced}.jpg")

    batch = client.import_batch(endless(), concurrency=4)
    for i, _ in enumerate(batch):
        if i == 99:
            batch.stop()
        assert produced < 10_000, "the input is read on after stop"
    assert produced < 2_000, produced


def test_a_slow_input_sees_results_as_rows_finish(client: avatarium.Client) -> None:
    """Rows that come slowly are run and answered as they come, not once a block fills."""
    given = 0

    def slow() -> Iterator[tuple[str, str]]:
        nonlocal given
        for i in range(30):
            given += 1
            yield (f"slow{i}", f"http://127.0.0.1:1/{i}.jpg")
            time.sleep(0.02)

    with client.import_batch(slow(), concurrency=2) as batch:
        first = next(batch)
        assert given < 10, f"the first result came after {given} of 30 rows"
        assert not first.ok
        assert len(list(batch)) == 29


def test_progress_callback_and_its_exception(client: avatarium.Client, server: PhotoServer) -> None:
    seen: list[BatchProgress] = []
    rows = rows_of(server, "prg", 6) + [("prg-bad", server.url("missing.jpg"))]
    results = list(client.import_batch(rows, progress=seen.append, progress_every=0))
    assert len(results) == 7
    assert seen[-1].done == 7 and seen[-1].ok == 6 and seen[-1].failed == 1 and seen[-1].resumed == 0
    assert [p.done for p in seen] == sorted(p.done for p in seen)

    def boom(p: BatchProgress) -> None:
        raise ValueError(f"stop at {p.done}")

    rows = rows_of(server, "boom", 50)
    with pytest.raises(ValueError, match="stop at 1"):
        for _ in client.import_batch(rows, concurrency=2, progress=boom, progress_every=0):
            pass
    fetched = server.fetches("photo.jpg?boom")
    time.sleep(0.3)
    assert server.fetches("photo.jpg?boom") == fetched < 50


def test_ctrl_c_interrupts_a_wait(client: avatarium.Client, server: PhotoServer) -> None:
    rows = [(f"hang{i}", server.url(f"hang?{i}")) for i in range(4)]
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for _ in client.import_batch(rows, concurrency=2):
            pass
    assert time.monotonic() - started < 3


def test_an_input_that_raises_stops_the_batch(client: avatarium.Client, server: PhotoServer) -> None:
    def rows() -> Iterator[tuple[str, str]]:
        yield ("ir0", server.url("photo.jpg?ir0"))
        raise OSError("the export is truncated")

    with pytest.raises(OSError, match="truncated"):
        list(client.import_batch(rows()))


def test_async_for_over_an_async_generator(settings: dict[str, Any], server: PhotoServer) -> None:
    async def rows() -> AsyncIterator[tuple[str, str]]:
        for i in range(5):
            await asyncio.sleep(0)
            yield (f"as{i}", server.url(f"photo.jpg?as{i}"))

    async def main() -> tuple[list[RowResult], list[RowResult], BatchProgress]:
        async with await avatarium.Client.open_async(**settings) as c:
            seen = [r async for r in c.import_batch_async(rows(), input_key="async")]
            async with c.import_batch_async(rows_of(server, "as", 5), input_key="async") as again:
                resumed = [r async for r in again]
            return seen, resumed, again.progress

    seen, resumed, progress = asyncio.run(main())
    assert sorted(r.uid for r in seen) == [f"as{i}" for i in range(5)]
    assert all(r.ok and not r.resumed for r in seen)
    assert all(r.resumed for r in resumed) and progress.resumed == 5
