"""Batch import: ``client.import_batch(rows)`` (and ``import_batch_async``), an iterator of
one :class:`~avatarium.RowResult` per row.

Only the loop lives here: pull a row from the caller's iterable, hand it to the native
batch, wait for a result or for room, yield. Rows are pulled only while the batch has room
for them, so a generator of a million rows is never held whole: memory follows the rows in
flight. Row parsing, concurrency, retries, resumption and counting are the core's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Union

from . import _native
from ._native import BatchProgress, RowResult

__all__ = ["AsyncBatchImport", "BatchImport", "BatchRowInput", "ProgressCallback"]

#: A row: a ``(UID, URL)`` pair, or a dict as Gigya's account exports have them
#: (``{"UID": …, "profile": {"photoURL": …}}``) or with ``UID`` and ``URL`` keys.
BatchRowInput = Union[tuple[str, str], Mapping[str, Any]]

#: Called with the counts so far; what it returns is ignored, what it raises stops the batch.
ProgressCallback = Callable[[BatchProgress], object]


class _Progress:
    """Calls the callback at most every ``every`` seconds, and once at the end."""

    __slots__ = ("_callback", "_every", "_last", "_reported")

    def __init__(self, callback: ProgressCallback | None, every: float) -> None:
        self._callback = callback
        self._every = every
        self._last = time.monotonic()
        self._reported: BatchProgress | None = None

    def row(self, native: _native.Batch) -> None:
        if self._callback is not None and time.monotonic() - self._last >= self._every:
            self._report(native)

    def end(self, native: _native.Batch) -> None:
        if self._callback is not None and self._reported != native.progress:
            self._report(native)

    def _report(self, native: _native.Batch) -> None:
        assert self._callback is not None
        counts = native.progress
        self._last = time.monotonic()
        self._reported = counts
        self._callback(counts)


class BatchImport(Iterator[RowResult]):
    """A running batch import: iterate it for one :class:`~avatarium.RowResult` per row, in
    the order rows finish (``result.row`` is the row's position in the input).

    An exception raised through the loop (from the input, the progress callback, or
    Ctrl-C) stops the batch at once: no further row starts and the rows in flight are
    dropped (their slots freed; not recorded, so a resumed run imports them again). A
    ``break`` stops it when the iterator is closed: at the end of a ``with`` block, by
    :meth:`close`, or when the iterator is freed (at once in CPython when nothing else
    holds it); until then the rows already handed over may run on. :meth:`stop` instead
    lets the rows in flight finish and yields them before the end.
    """

    __slots__ = ("_native", "_rows", "_full", "_progress", "_ended")

    def __init__(self, native: _native.Batch, rows: Iterable[BatchRowInput], progress: _Progress) -> None:
        self._native = native
        self._rows: Iterator[BatchRowInput] | None = iter(rows)
        self._full = False
        self._progress = progress
        self._ended = False

    def __iter__(self) -> BatchImport:
        return self

    def __next__(self) -> RowResult:
        if self._ended:
            raise StopIteration
        try:
            while True:
                self._fill()
                got = self._native.wait()
                if got is True:
                    self._full = False
                elif got is False:
                    self._ended = True
                    self._progress.end(self._native)
                    break
                else:
                    assert isinstance(got, RowResult)
                    self._progress.row(self._native)
                    return got
        except BaseException:
            self.close()
            raise
        raise StopIteration

    def _fill(self) -> None:
        # One row per wait(): wait() hands over finished rows before room, so results come
        # out as rows finish, even from a slow input.
        if self._rows is not None and not self._full:
            try:
                row = next(self._rows)
            except StopIteration:
                self._rows = None
                self._native.end_input()
                return
            self._full = not self._native.offer(row)

    @property
    def progress(self) -> BatchProgress:
        """The counts of the results returned so far."""
        return self._native.progress

    def stop(self) -> None:
        """Start no further row; the rows in flight finish, are recorded and still come out."""
        self._native.stop()

    def close(self) -> None:
        """Stop now: returns once the batch has let go of its slots. Idempotent."""
        self._ended = True
        self._rows = None
        self._native.close()

    def __enter__(self) -> BatchImport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncBatchImport(AsyncIterator[RowResult]):
    """:class:`BatchImport` for ``async for``: the rows may be an iterable or an async
    iterable, and waiting never blocks the event loop."""

    __slots__ = ("_native", "_rows", "_arows", "_full", "_progress", "_ended")

    def __init__(
        self,
        native: _native.Batch,
        rows: Iterable[BatchRowInput] | AsyncIterable[BatchRowInput],
        progress: _Progress,
    ) -> None:
        self._native = native
        self._rows: Iterator[BatchRowInput] | None = None
        self._arows: AsyncIterator[BatchRowInput] | None = None
        if isinstance(rows, AsyncIterable):
            self._arows = aiter(rows)
        else:
            self._rows = iter(rows)
        self._full = False
        self._progress = progress
        self._ended = False

    def __aiter__(self) -> AsyncBatchImport:
        return self

    async def __anext__(self) -> RowResult:
        if self._ended:
            raise StopAsyncIteration
        try:
            while True:
                await self._fill()
                got = await self._native.wait_async()
                if got is True:
                    self._full = False
                elif got is False:
                    self._ended = True
                    self._progress.end(self._native)
                    break
                else:
                    assert isinstance(got, RowResult)
                    self._progress.row(self._native)
                    return got
        except BaseException:
            # Not awaited: a cancelled task must not await again; aborting takes a moment.
            self._stop_now()
            self._native.close()
            raise
        raise StopAsyncIteration

    async def _fill(self) -> None:
        # One row per wait(), as in BatchImport._fill.
        if not self._full and (self._rows is not None or self._arows is not None):
            try:
                if self._rows is not None:
                    row = next(self._rows)
                else:
                    assert self._arows is not None
                    row = await anext(self._arows)
            except (StopIteration, StopAsyncIteration):
                self._rows = self._arows = None
                self._native.end_input()
                return
            self._full = not self._native.offer(row)

    def _stop_now(self) -> None:
        self._ended = True
        self._rows = self._arows = None

    @property
    def progress(self) -> BatchProgress:
        """The counts of the results returned so far."""
        return self._native.progress

    def stop(self) -> None:
        """Start no further row; the rows in flight finish, are recorded and still come out."""
        self._native.stop()

    async def aclose(self) -> None:
        """Stop now: returns once the batch has let go of its slots. Idempotent."""
        self._stop_now()
        await self._native.close_async()

    async def __aenter__(self) -> AsyncBatchImport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def start(
    native_client: _native.Client,
    *,
    input_key: str | None,
    concurrency: int | None,
    per_host: int,
    publish: bool,
    retry_failed: bool,
    shard: tuple[int, int] | str | None,
    max_attempts: int,
) -> _native.Batch:
    if isinstance(shard, tuple):
        shard = f"{shard[0]}/{shard[1]}"
    return native_client.import_batch(
        input_key=input_key,
        concurrency=concurrency,
        per_host=per_host,
        publish=publish,
        retry_failed=retry_failed,
        shard=shard,
        max_attempts=max_attempts,
    )
