"""The public client: keyword settings, a context manager, ``client.accounts`` and the
Gigya-style ``call``.

Everything here delegates to ``avatarium._native.Client``; the ``*_async`` methods are
real ``async def`` functions so callers get coroutines (a native awaitable created outside a
running loop would fail with "no running event loop").
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _batch, _native
from ._batch import AsyncBatchImport, BatchImport, BatchRowInput, ProgressCallback
from ._native import AccountInfo, ImportResult, PhotoUrls, Policies, PurgeReport, Registration

__all__ = ["Accounts", "Client"]


def _as_bytes(photo_bytes: bytes | bytearray | memoryview) -> bytes:
    return photo_bytes if isinstance(photo_bytes, bytes) else bytes(photo_bytes)


class Accounts:
    """The ``accounts.*`` methods of SPEC.md, typed.

    Each method names the account with exactly one of ``uid`` (a trusted server-side UID) and
    ``reg_token`` (from :meth:`init_registration`); API errors raise a
    :class:`~avatarium.ProfilePhotoError` subclass. Every method has an ``_async`` twin.
    """

    __slots__ = ("_native",)

    def __init__(self, native: _native.Client) -> None:
        self._native = native

    # accounts.importProfilePhoto
    def import_profile_photo(
        self, url: str, *, uid: str | None = None, reg_token: str | None = None, publish: bool = False
    ) -> ImportResult:
        """Fetch the photo at ``url``; keep it pending, or publish it at once."""
        return self._native.import_profile_photo(url, uid=uid, reg_token=reg_token, publish=publish)

    async def import_profile_photo_async(
        self, url: str, *, uid: str | None = None, reg_token: str | None = None, publish: bool = False
    ) -> ImportResult:
        return await self._native.import_profile_photo_async(url, uid=uid, reg_token=reg_token, publish=publish)

    # accounts.setProfilePhoto (alias accounts.uploadProfilePhoto)
    def set_profile_photo(
        self,
        photo_bytes: bytes | bytearray | memoryview,
        *,
        uid: str | None = None,
        reg_token: str | None = None,
        publish: bool = False,
    ) -> ImportResult:
        """The same as :meth:`import_profile_photo`, from the file's bytes."""
        return self._native.set_profile_photo(_as_bytes(photo_bytes), uid=uid, reg_token=reg_token, publish=publish)

    async def set_profile_photo_async(
        self,
        photo_bytes: bytes | bytearray | memoryview,
        *,
        uid: str | None = None,
        reg_token: str | None = None,
        publish: bool = False,
    ) -> ImportResult:
        return await self._native.set_profile_photo_async(
            _as_bytes(photo_bytes), uid=uid, reg_token=reg_token, publish=publish
        )

    # accounts.publishProfilePhoto
    def publish_profile_photo(self, *, uid: str | None = None, reg_token: str | None = None) -> PhotoUrls:
        """Publish the pending photo into the profile."""
        return self._native.publish_profile_photo(uid=uid, reg_token=reg_token)

    async def publish_profile_photo_async(self, *, uid: str | None = None, reg_token: str | None = None) -> PhotoUrls:
        return await self._native.publish_profile_photo_async(uid=uid, reg_token=reg_token)

    # accounts.removeProfilePhoto
    def remove_profile_photo(self, *, uid: str | None = None, reg_token: str | None = None) -> str:
        """Clear the published and the pending photo; returns the account's UID."""
        return self._native.remove_profile_photo(uid=uid, reg_token=reg_token)

    async def remove_profile_photo_async(self, *, uid: str | None = None, reg_token: str | None = None) -> str:
        return await self._native.remove_profile_photo_async(uid=uid, reg_token=reg_token)

    # accounts.getAccountInfo
    def get_account_info(self, *, uid: str | None = None, reg_token: str | None = None) -> AccountInfo:
        return self._native.get_account_info(uid=uid, reg_token=reg_token)

    async def get_account_info_async(self, *, uid: str | None = None, reg_token: str | None = None) -> AccountInfo:
        return await self._native.get_account_info_async(uid=uid, reg_token=reg_token)

    # accounts.initRegistration
    def init_registration(self) -> Registration:
        """A new pending account and its regToken."""
        return self._native.init_registration()

    async def init_registration_async(self) -> Registration:
        return await self._native.init_registration_async()

    # accounts.finalizeRegistration
    def finalize_registration(self, reg_token: str) -> AccountInfo:
        """Mark the account registered; the token is refused afterwards."""
        return self._native.finalize_registration(reg_token)

    async def finalize_registration_async(self, reg_token: str) -> AccountInfo:
        return await self._native.finalize_registration_async(reg_token)

    # accounts.getPolicies / accounts.setPolicies (the profilePhoto part)
    def get_policies(self) -> Policies:
        return self._native.get_policies()

    async def get_policies_async(self) -> Policies:
        return await self._native.get_policies_async()

    def set_policies(
        self,
        *,
        thumbnail_width: int | None = None,
        thumbnail_height: int | None = None,
        thumbnail_crop: str | None = None,
        thumbnail_scales: Sequence[int] | None = None,
    ) -> Policies:
        """Set the thumbnail size, crop (``"center"`` or ``"attention"``) and scales (e.g.
        ``[1, 2, 3]``); an omitted field keeps its current value."""
        return self._native.set_policies(
            thumbnail_width=thumbnail_width,
            thumbnail_height=thumbnail_height,
            thumbnail_crop=thumbnail_crop,
            thumbnail_scales=None if thumbnail_scales is None else list(thumbnail_scales),
        )

    async def set_policies_async(
        self,
        *,
        thumbnail_width: int | None = None,
        thumbnail_height: int | None = None,
        thumbnail_crop: str | None = None,
        thumbnail_scales: Sequence[int] | None = None,
    ) -> Policies:
        return await self._native.set_policies_async(
            thumbnail_width=thumbnail_width,
            thumbnail_height=thumbnail_height,
            thumbnail_crop=thumbnail_crop,
            thumbnail_scales=None if thumbnail_scales is None else list(thumbnail_scales),
        )


class Client:
    """An avatarium engine on the configured stores.

    ``Client(**settings)`` takes the configuration keys of SPEC.md as keyword arguments
    (``data_dir=``, ``database_url=``, ``public_base_url=``, ``max_photo_bytes=``, …);
    ``Client(config_file="avatarium.toml")`` reads a TOML file instead. With
    ``use_env=True``, ``AVATARIUM_<KEY>`` environment variables override either.

    Thread-safe: one client serves many threads and asyncio tasks at once. Use it as a
    context manager (``with`` or ``async with``) or call :meth:`close`. In async code,
    ``await Client.open_async(...)`` opens it without blocking the event loop, and
    ``async with`` / :meth:`aclose` close it the same way.
    """

    __slots__ = ("_native", "accounts")

    @classmethod
    async def open_async(
        cls,
        config_file: str | os.PathLike[str] | None = None,
        *,
        use_env: bool = False,
        **settings: Any,
    ) -> Client:
        """``Client(...)`` for async code: the stores open on the native runtime."""
        native = await _native.Client.open_async(settings or None, config_file, use_env)
        client = cls.__new__(cls)
        client._native = native
        client.accounts = Accounts(native)
        return client

    def __init__(
        self,
        config_file: str | os.PathLike[str] | None = None,
        *,
        use_env: bool = False,
        **settings: Any,
    ) -> None:
        self._native = _native.Client(settings or None, config_file, use_env)
        self.accounts = Accounts(self._native)

    def __repr__(self) -> str:
        return f"<avatarium.Client {'closed' if self.closed else 'open'}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def close(self) -> None:
        """Release the stores; later calls raise ``RuntimeError``."""
        self._native.close()

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        await self._native.close_async()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The Gigya-compatible form: ``call("accounts.importProfilePhoto", {"URL": …, "UID": …})``.

        Returns the response envelope (``errorCode``, ``statusCode``, ``callId``, … and the
        method's fields) and never raises for API errors.
        """
        return self._native.call(method, None if params is None else dict(params))

    async def call_async(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._native.call_async(method, None if params is None else dict(params))

    def purge(self) -> PurgeReport:
        """Delete expired pending photos and blobs no account points at."""
        return self._native.purge()

    async def purge_async(self) -> PurgeReport:
        return await self._native.purge_async()

    def import_batch(
        self,
        rows: Iterable[BatchRowInput],
        *,
        input_key: str | None = None,
        concurrency: int | None = None,
        per_host: int = 4,
        publish: bool = True,
        retry_failed: bool = False,
        shard: tuple[int, int] | str | None = None,
        max_attempts: int = 4,
        progress: ProgressCallback | None = None,
        progress_every: float = 1.0,
    ) -> BatchImport:
        """Import every row's photo, as ``avatarium import-batch`` does; iterate the result
        for one :class:`RowResult` per row, in the order rows finish.

        ``rows``: ``(UID, URL)`` pairs, or dicts as Gigya's account exports have them
        (``{"UID": …, "profile": {"photoURL": …}}``) or with ``UID`` and ``URL`` keys; any
        iterable, pulled only as the batch has room (a generator is never held whole). A
        row that is neither fails alone with 400006.

        ``input_key`` names the input: progress is recorded under it, and a later batch with
        the same key skips the rows recorded as done (and failed ones unless
        ``retry_failed``). Give one to make a run resumable, e.g. the export's file name and
        date; the same position must hold the same row. Without it the run gets a one-off
        key and resumes nothing.

        ``concurrency`` rows at once (default: ``max_concurrent_imports``), at most
        ``per_host`` per origin host; timeouts, origin 5xx and 503001 are retried up to
        ``max_attempts`` in all; ``publish=False`` leaves the photos pending; ``shard=(I, N)``
        (or ``"I/N"``) takes the rows whose position modulo N is I-1.

        ``progress`` is called with a :class:`BatchProgress` (done, ok, failed, resumed) at
        most every ``progress_every`` seconds as results come out, and once at the end; an
        exception it raises stops the batch and propagates. Waiting releases the GIL.
        """
        native = _batch.start(
            self._native,
            input_key=input_key,
            concurrency=concurrency,
            per_host=per_host,
            publish=publish,
            retry_failed=retry_failed,
            shard=shard,
            max_attempts=max_attempts,
        )
        return BatchImport(native, rows, _batch._Progress(progress, progress_every))

    def import_batch_async(
        self,
        rows: Iterable[BatchRowInput] | AsyncIterable[BatchRowInput],
        *,
        input_key: str | None = None,
        concurrency: int | None = None,
        per_host: int = 4,
        publish: bool = True,
        retry_failed: bool = False,
        shard: tuple[int, int] | str | None = None,
        max_attempts: int = 4,
        progress: ProgressCallback | None = None,
        progress_every: float = 1.0,
    ) -> AsyncBatchImport:
        """:meth:`import_batch` for ``async for``; ``rows`` may also be an async iterable."""
        native = _batch.start(
            self._native,
            input_key=input_key,
            concurrency=concurrency,
            per_host=per_host,
            publish=publish,
            retry_failed=retry_failed,
            shard=shard,
            max_attempts=max_attempts,
        )
        return AsyncBatchImport(native, rows, _batch._Progress(progress, progress_every))
