"""Issue 15: the typed methods build core requests (photos as raw bytes, identities by the
core's rule), async open / close, and the sync/async twins of one definition."""

from __future__ import annotations

import ast
import asyncio
import base64
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import avatarium
from avatarium import _native

from .conftest import PhotoServer, photo


def _file(url: str) -> bytes:
    return Path(urlparse(url).path).read_bytes()


def test_raw_bytes_upload_matches_the_gigya_form(client: avatarium.Client) -> None:
    raw = photo("photo.png")
    typed = client.accounts.set_profile_photo(raw, uid="raw", publish=True)
    env = client.call("accounts.setProfilePhoto", {"UID": "b64", "photoBytes": base64.b64encode(raw).decode(), "publish": True})
    assert env["errorCode"] == 0, env
    assert typed.uid == "raw" and env["UID"] == "b64"
    assert typed.photo_url is not None and typed.thumbnail_url is not None
    # The same photo and thumbnail, whichever form carried the bytes.
    assert _file(typed.photo_url) == _file(env["photoURL"])
    assert _file(typed.thumbnail_url) == _file(env["thumbnailURL"])
    assert Path(typed.photo_url).suffix == Path(env["photoURL"]).suffix
    # bytearray and memoryview are the same bytes.
    again = client.accounts.set_profile_photo(memoryview(bytearray(raw)), uid="raw", publish=True)
    assert _file(again.photo_url or "") == _file(typed.photo_url)


def test_an_oversized_raw_upload_is_refused_for_one_copy(client: avatarium.Client) -> None:
    # 32 MiB against a 100 kB cap: the bytes cross once, raw, and the core refuses them by
    # their length (no base64, no JSON, no decode). CPU bound measured at ~0.02 s here.
    big = bytes(32 << 20)
    started = time.process_time()
    with pytest.raises(avatarium.PhotoTooLargeError) as e:
        client.accounts.set_profile_photo(big, uid="big", publish=True)
    cpu = time.process_time() - started
    assert "33554432" in str(e.value), e.value
    assert cpu < 0.5, f"refusing 32 MiB cost {cpu:.3f} CPU s"
    with pytest.raises(avatarium.UnauthorizedError):
        client.accounts.get_account_info(uid="big")  # nothing was created


def test_refused_identity_carries_a_call_id(client: avatarium.Client) -> None:
    a = client.accounts
    for provoke, cls in [
        (lambda: a.publish_profile_photo(), avatarium.MissingParameterError),
        (lambda: a.get_account_info(uid="u", reg_token="t"), avatarium.InvalidParameterError),
        (lambda: a.set_profile_photo(b"x", uid="", reg_token=""), avatarium.MissingParameterError),
    ]:
        with pytest.raises(cls) as e:
            provoke()
        assert isinstance(e.value.call_id, str) and len(e.value.call_id) == 32, e.value.call_id
    ids = set()
    for _ in range(3):
        with pytest.raises(avatarium.MissingParameterError) as e:
            a.remove_profile_photo()
        ids.add(e.value.call_id)
    assert len(ids) == 3  # one per call, like any answered call

    async def main() -> None:
        with pytest.raises(avatarium.MissingParameterError) as e:
            await a.get_account_info_async()
        assert isinstance(e.value.call_id, str) and len(e.value.call_id) == 32

    asyncio.run(main())


def test_out_of_range_sizes_are_the_cores_invalid_parameter(client: avatarium.Client) -> None:
    for bad in (-1, 2**40):
        with pytest.raises(avatarium.InvalidParameterError) as e:
            client.accounts.set_policies(thumbnail_width=bad)
        assert e.value.call_id is not None and "thumbnailWidth" in e.value.details


def test_async_open_and_async_with_close(settings: dict[str, Any]) -> None:
    async def main() -> avatarium.Client:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        opening = avatarium.Client.open_async(**settings)
        client = await opening
        t.cancel()
        assert ticks > 0  # the loop ran while the stores opened
        async with client as c:
            assert c is client and not c.closed
            r = await c.accounts.set_profile_photo_async(photo("photo.jpg"), uid="o", publish=True)
            assert r.published
            assert (await c.accounts.get_account_info_async(uid="o")).photo_url == r.photo_url
        assert client.closed
        with pytest.raises(RuntimeError):
            await client.accounts.get_policies_async()
        await client.aclose()  # idempotent
        return client

    client = asyncio.run(main())
    assert client.closed
    # The stores were released: a new client on the same folder sees the account.
    with avatarium.Client(**settings) as again:
        assert again.accounts.get_account_info(uid="o").photo_url is not None


def test_async_open_errors_are_typed(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(avatarium.InvalidParameterError) as e:
            await avatarium.Client.open_async(data_dir=tmp_path, no_such_key=1)
        assert e.value.call_id is None and "no_such_key" in str(e.value)
        with pytest.raises(TypeError):
            await avatarium.Client.open_async(data_dir=tmp_path, config_file=tmp_path / "a.toml")

    asyncio.run(main())


def test_async_close_ends_calls_in_flight(settings: dict[str, Any], server: PhotoServer) -> None:
    async def main() -> None:
        c = await avatarium.Client.open_async(**{**settings, "fetch_timeout_ms": 8000})
        call = asyncio.ensure_future(c.accounts.import_profile_photo_async(server.url("hang"), uid="h"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await c.aclose()
        with pytest.raises(avatarium.BusyError):
            await call
        assert time.monotonic() - started < 1.5  # not the 8 s fetch timeout

    asyncio.run(main())


# Native methods that are not API calls and so have no twin.
# import_batch: one native Batch serves the blocking and the async iterator alike.
_SINGLE = {"close", "closed", "open_async", "close_async", "import_batch"}


def _native_methods() -> set[str]:
    return {n for n in dir(_native.Client) if not n.startswith("_")}


def test_every_method_has_both_forms() -> None:
    names = _native_methods() - _SINGLE
    blocking = {n for n in names if not n.endswith("_async")}
    assert {n + "_async" for n in blocking} == names - blocking
    assert len(blocking) == 11  # 9 SPEC methods (getPolicies/setPolicies included), call, purge
    for n in names:
        assert hasattr(avatarium.Client, n) or hasattr(avatarium.Accounts, n), n


def test_stub_lists_exactly_the_native_methods() -> None:
    stub = Path(_native.__file__).with_name("_native.pyi")
    tree = ast.parse(stub.read_text())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client"]
    stubbed = {n.name for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    assert stubbed == _native_methods()
