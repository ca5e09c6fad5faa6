"""Every error code of SPEC.md (and 503001) provoked through the binding, as exceptions from
the typed methods (blocking and async) and as envelopes from ``call``."""

from __future__ import annotations

import asyncio
import base64
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import avatarium
from avatarium import (
    BusyError,
    InternalError,
    InvalidParameterError,
    InvalidUrlError,
    MissingParameterError,
    MissingPhotoError,
    PhotoTooLargeError,
    ProfilePhotoError,
    RequestTimeoutError,
    UnauthorizedError,
)

from .conftest import PhotoServer, photo

# class, errorCode, statusCode, code, errorMessage, extra built-in base
TABLE: list[tuple[type[ProfilePhotoError], int, int, str, str, type[Exception] | None]] = [
    (MissingParameterError, 400002, 400, "MISSING_PARAMETER", "Missing required parameter", ValueError),
    (InvalidParameterError, 400006, 400, "INVALID_PARAMETER", "Invalid parameter value", ValueError),
    (UnauthorizedError, 403005, 403, "UNAUTHORIZED", "Unauthorized user", PermissionError),
    (InvalidUrlError, 404004, 404, "INVALID_URL", "Invalid URL", None),
    (MissingPhotoError, 409010, 409, "MISSING_PHOTO", "Missing user photo", None),
    (PhotoTooLargeError, 413004, 413, "PHOTO_TOO_LARGE", "Profile photo too large", ValueError),
    (InternalError, 500001, 500, "INTERNAL", "General server error", None),
    (RequestTimeoutError, 504002, 504, "TIMEOUT", "Request timeout", TimeoutError),
    (BusyError, 503001, 503, "BUSY", "Service unavailable", None),
]
BY_CLASS = {row[0]: row for row in TABLE}


def check(exc: BaseException, cls: type[ProfilePhotoError], *, envelope: bool = True) -> None:
    _, error_code, status_code, code, message, builtin = BY_CLASS[cls]
    assert type(exc) is cls, repr(exc)
    assert isinstance(exc, ProfilePhotoError) and isinstance(exc, Exception)
    if builtin is not None:
        assert isinstance(exc, builtin)
    assert exc.error_code == error_code
    assert exc.status_code == status_code
    assert exc.code == code
    assert exc.error_message == message
    assert isinstance(exc.details, str) and exc.details
    assert str(exc) == f"{message} ({error_code}): {exc.details}"
    if envelope:
        assert isinstance(exc.call_id, str) and len(exc.call_id) == 32
    else:
        assert exc.call_id is None


def test_class_hierarchy() -> None:
    assert issubclass(ProfilePhotoError, Exception)
    assert ProfilePhotoError.__module__ == "avatarium"
    for cls, *_, builtin in TABLE:
        assert issubclass(cls, ProfilePhotoError)
        assert cls.__module__ == "avatarium"
        assert cls.__doc__
        if builtin is not None:
            assert issubclass(cls, builtin)
    assert issubclass(UnauthorizedError, OSError) and issubclass(RequestTimeoutError, OSError)
    assert not issubclass(InvalidUrlError, ValueError)


Provoke = Callable[[avatarium.Client, PhotoServer], Any]

# (class, how to provoke it with the typed blocking API, the same through call())
CASES: list[tuple[type[ProfilePhotoError], Provoke, tuple[str, dict[str, Any]]]] = [
    (
        MissingParameterError,
        lambda c, s: c.accounts.import_profile_photo(s.url("photo.jpg")),
        ("accounts.importProfilePhoto", {"url": "http://127.0.0.1/x.jpg"}),
    ),
    (
        MissingParameterError,
        lambda c, s: c.accounts.import_profile_photo("", uid="e"),
        ("accounts.importProfilePhoto", {"UID": "e"}),
    ),
    (
        InvalidParameterError,
        lambda c, s: c.accounts.import_profile_photo(s.url("photo.jpg"), uid="e", reg_token="t"),
        ("accounts.importProfilePhoto", {"UID": "e", "regToken": "t", "url": "http://127.0.0.1/x.jpg"}),
    ),
    (
        UnauthorizedError,
        lambda c, s: c.accounts.get_account_info(uid="never-seen"),
        ("accounts.getAccountInfo", {"UID": "never-seen"}),
    ),
    (
        UnauthorizedError,
        lambda c, s: c.accounts.import_profile_photo(s.url("photo.jpg"), reg_token="forged.token"),
        ("accounts.finalizeRegistration", {"regToken": "forged.token"}),
    ),
    (
        InvalidUrlError,
        lambda c, s: c.accounts.import_profile_photo(s.url("no-such-file.jpg"), uid="e"),
        ("accounts.importProfilePhoto", {"UID": "e", "url": "file:///etc/passwd"}),
    ),
    (
        MissingPhotoError,
        lambda c, s: c.accounts.import_profile_photo(s.url("not_an_image.txt"), uid="e"),
        ("accounts.setProfilePhoto", {"UID": "e", "photoBytes": "aGVsbG8gd29ybGQ="}),
    ),
    (
        MissingPhotoError,
        lambda c, s: (
            c.accounts.set_profile_photo(photo("photo.png"), uid="e", publish=True),
            c.accounts.publish_profile_photo(uid="e"),  # published at once: nothing pending
        ),
        ("accounts.publishProfilePhoto", {"UID": "e2"}),
    ),
    (
        PhotoTooLargeError,
        lambda c, s: c.accounts.import_profile_photo(s.url("big.png"), uid="e"),
        ("accounts.importProfilePhoto", {"UID": "e", "url": "BIG"}),
    ),
    (
        PhotoTooLargeError,
        lambda c, s: c.accounts.set_profile_photo(photo("big.png"), uid="e"),
        ("accounts.importProfilePhoto", {"UID": "e", "url": "BIG"}),
    ),
]


@pytest.mark.parametrize("cls,provoke,generic", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_typed_call_raises(
    client: avatarium.Client,
    server: PhotoServer,
    cls: type[ProfilePhotoError],
    provoke: Provoke,
    generic: tuple[str, dict[str, Any]],
) -> None:
    with pytest.raises(cls) as e:
        provoke(client, server)
    check(e.value, cls)


@pytest.mark.parametrize("cls,provoke,generic", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_call_form_returns_the_error_envelope(
    client: avatarium.Client,
    server: PhotoServer,
    cls: type[ProfilePhotoError],
    provoke: Provoke,
    generic: tuple[str, dict[str, Any]],
) -> None:
    method, params = generic
    if params.get("url") == "BIG":
        params = {**params, "url": server.url("big.png")}
    if method == "accounts.publishProfilePhoto":
        client.call("accounts.importProfilePhoto", {"UID": "e2", "url": server.url("photo.jpg"), "publish": True})
    r = client.call(method, params)
    _, error_code, status_code, _, message, _ = BY_CLASS[cls]
    assert (r["errorCode"], r["statusCode"], r["errorMessage"]) == (error_code, status_code, message), r
    assert r["errorDetails"]


def test_async_forms_raise_the_same_classes(client: avatarium.Client, server: PhotoServer) -> None:
    a = client.accounts

    async def main() -> None:
        with pytest.raises(MissingParameterError) as e1:
            await a.publish_profile_photo_async()
        check(e1.value, MissingParameterError)
        with pytest.raises(InvalidParameterError) as e2:
            await a.get_account_info_async(uid="x", reg_token="y")
        check(e2.value, InvalidParameterError)
        with pytest.raises(UnauthorizedError) as e3:
            await a.remove_profile_photo_async(uid="nobody")
        check(e3.value, UnauthorizedError)
        with pytest.raises(InvalidUrlError) as e4:
            await a.import_profile_photo_async("http://169.254.169.254/latest/meta-data/", uid="x")
        check(e4.value, InvalidUrlError)
        with pytest.raises(MissingPhotoError) as e5:
            await a.set_profile_photo_async(b"not an image at all", uid="x")
        check(e5.value, MissingPhotoError)
        with pytest.raises(PhotoTooLargeError) as e6:
            await a.set_profile_photo_async(photo("big.png"), uid="x")
        check(e6.value, PhotoTooLargeError)
        with pytest.raises(UnauthorizedError) as e7:
            await a.finalize_registration_async("forged.token")
        check(e7.value, UnauthorizedError)
        with pytest.raises(InvalidParameterError):
            await a.set_policies_async(thumbnail_width=5000)

    asyncio.run(main())


def test_catch_by_builtin(client: avatarium.Client) -> None:
    with pytest.raises(ValueError):
        client.accounts.import_profile_photo("", uid="x")
    with pytest.raises(PermissionError):
        client.accounts.publish_profile_photo(uid="nobody")


def test_timeout_504002(settings: dict[str, Any], server: PhotoServer) -> None:
    with avatarium.Client(**{**settings, "fetch_timeout_ms": 500}) as c:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as e:
            c.accounts.import_profile_photo(server.url("hang"), uid="t")
        assert time.monotonic() - started < 5
        check(e.value, RequestTimeoutError)
        assert isinstance(e.value, TimeoutError)

        async def main() -> None:
            with pytest.raises(TimeoutError):
                await c.accounts.import_profile_photo_async(server.url("hang"), uid="t")

        asyncio.run(main())
        r = c.call("accounts.importProfilePhoto", {"UID": "t", "url": server.url("hang")})
        assert r["errorCode"] == 504002 and r["statusCode"] == 504


def test_internal_500001_when_the_blob_folder_is_broken(settings: dict[str, Any]) -> None:
    with avatarium.Client(**settings) as c:
        c.accounts.set_profile_photo(photo("photo.png"), uid="i")  # creates the blob folder
        blobs = Path(settings["data_dir"]) / "blobs"
        shutil.rmtree(blobs)
        blobs.write_bytes(b"not a folder")
        with pytest.raises(InternalError) as e:
            c.accounts.set_profile_photo(photo("photo.jpg"), uid="i")
        check(e.value, InternalError)
        assert e.value.details == "Internal error"  # the cause is logged, not leaked
        r = c.call("accounts.setProfilePhoto", {"UID": "i", "photoBytes": base64.b64encode(photo("photo.gif")).decode()})
        assert r["errorCode"] == 500001 and r["errorDetails"] == "Internal error"
        port = settings["fetch_allowed_ports"][0]
        r = c.call("accounts.importProfilePhoto", {"UID": "i", "url": f"http://127.0.0.1:{port}/photo.jpg"})
        assert r["errorCode"] == 500001 and r["statusCode"] == 500


def test_internal_error_from_open_carries_the_cause(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(InternalError) as e:
        avatarium.Client(data_dir=not_a_dir / "sub")
    check(e.value, InternalError, envelope=False)
    assert e.value.__cause__ is not None and str(e.value.__cause__)


def test_busy_503001(settings: dict[str, Any], server: PhotoServer) -> None:
    config = {**settings, "fetch_timeout_ms": 3000, "max_concurrent_fetches": 1, "max_queued_fetches": 0}
    with avatarium.Client(**config) as c:
        first_error: list[BaseException] = []

        def hang() -> None:
            try:
                c.accounts.import_profile_photo(server.url("hang"), uid="b")
            except BaseException as exc:  # noqa: BLE001 (recorded and checked below)
                first_error.append(exc)

        while server.hangs_started.acquire(blocking=False):
            pass  # forget earlier tests' hangs
        t = threading.Thread(target=hang)
        t.start()
        try:
            # The first import holds the only fetch slot once its fetch reached the server.
            assert server.hangs_started.acquire(timeout=5)
            with pytest.raises(BusyError) as e:
                c.accounts.import_profile_photo(server.url("photo.jpg"), uid="b2")
            check(e.value, BusyError)
            r = c.call("accounts.importProfilePhoto", {"UID": "b3", "url": server.url("photo.jpg")})
            assert r["errorCode"] == 503001 and r["statusCode"] == 503
        finally:
            t.join()
        assert len(first_error) == 1 and isinstance(first_error[0], RequestTimeoutError)
