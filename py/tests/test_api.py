"""Every SPEC method through ``client.accounts`` (blocking and ``_async``), the typed results,
the ``call`` envelope form, settings and the client's life cycle."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path
from typing import Any

import pytest

import avatarium
from avatarium import AccountInfo, ImportResult, PhotoUrls, Policies, PurgeReport, Registration

from .conftest import PhotoServer, photo


def test_import_then_publish_blocking(client: avatarium.Client, server: PhotoServer) -> None:
    a = client.accounts
    r = a.import_profile_photo(server.url("photo.jpg"), uid="u1")
    assert r == ImportResult("u1")
    assert not r.published and r.photo_url is None and r.thumbnail_url is None
    assert a.get_account_info(uid="u1") == AccountInfo("u1", True)

    urls = a.publish_profile_photo(uid="u1")
    assert isinstance(urls, PhotoUrls)
    assert urls.photo_url.startswith("file://") and urls.photo_url.endswith(".jpg")
    assert urls.thumbnail_url.endswith(".jpg")
    info = a.get_account_info(uid="u1")
    assert info == AccountInfo("u1", True, urls.photo_url, urls.thumbnail_url, urls.renditions)
    # Every file of the photo, typed: the photo, then the 1x thumbnail (the default policy).
    assert [(x.kind, x.format, x.width, x.height, x.scale) for x in info.renditions] == [
        ("photo", "jpeg", 320, 240, 1),
        ("thumbnail", "jpeg", 64, 64, 1),
    ]
    assert [x.url for x in info.renditions] == [urls.photo_url, urls.thumbnail_url]

    assert a.remove_profile_photo(uid="u1") == "u1"
    assert a.get_account_info(uid="u1").photo_url is None
    assert a.get_account_info(uid="u1").renditions == []


def test_import_publish_at_once_and_upload(client: avatarium.Client, server: PhotoServer) -> None:
    a = client.accounts
    r = a.import_profile_photo(server.url("photo.gif"), uid="u2", publish=True)
    assert r.published and r.uid == "u2"
    assert r.photo_url is not None and r.photo_url.endswith(".png")
    up = a.set_profile_photo(photo("photo.png"), uid="u2")
    assert up == ImportResult("u2")
    # bytearray / memoryview are accepted too
    up = a.set_profile_photo(memoryview(bytearray(photo("photo.jpg"))), uid="u2", publish=True)
    assert up.photo_url is not None and up.photo_url.endswith(".jpg")
    assert a.get_account_info(uid="u2").photo_url == up.photo_url


def test_registration_flow(client: avatarium.Client, server: PhotoServer) -> None:
    a = client.accounts
    reg = a.init_registration()
    assert isinstance(reg, Registration) and len(reg.uid) == 32 and reg.reg_token
    assert reg.reg_token not in repr(reg) and "<redacted>" in repr(reg)
    assert a.import_profile_photo(server.url("photo.png"), reg_token=reg.reg_token).uid == reg.uid
    assert a.get_account_info(reg_token=reg.reg_token) == AccountInfo(reg.uid, False)
    urls = a.publish_profile_photo(reg_token=reg.reg_token)
    info = a.finalize_registration(reg.reg_token)
    assert info == AccountInfo(reg.uid, True, urls.photo_url, urls.thumbnail_url, urls.renditions)
    with pytest.raises(avatarium.UnauthorizedError):
        a.get_account_info(reg_token=reg.reg_token)


def test_policies(client: avatarium.Client, server: PhotoServer) -> None:
    a = client.accounts
    assert a.get_policies() == Policies() == Policies(64, 64)
    assert a.set_policies(thumbnail_width=120, thumbnail_height=90) == Policies(120, 90)
    assert a.set_policies(thumbnail_height=30) == Policies(120, 30)  # width kept
    assert a.get_policies() == Policies(thumbnail_width=120, thumbnail_height=30)
    with pytest.raises(avatarium.InvalidParameterError) as e:
        a.set_policies(thumbnail_width=0)
    assert "thumbnailWidth" in e.value.details
    p = a.set_policies(thumbnail_crop="attention", thumbnail_scales=(2, 1))
    assert p == Policies(120, 30, "attention", [1, 2])
    assert (p.thumbnail_crop, p.thumbnail_scales) == ("attention", [1, 2])
    # The core's rules, the core's errors: each names its field and changes nothing.
    for bad in ({"thumbnail_crop": "centre"}, {"thumbnail_scales": [1, 1]}, {"thumbnail_scales": [2]}):
        with pytest.raises(avatarium.InvalidParameterError) as e:
            a.set_policies(**bad)  # type: ignore[arg-type]
        assert ("thumbnailCrop" if "thumbnail_crop" in bad else "thumbnailScales") in str(e.value)
    assert a.get_policies() == p
    r = a.import_profile_photo(server.url("photo.jpg"), uid="p1", publish=True)
    assert [(x.kind, x.width, x.scale) for x in r.renditions] == [
        ("photo", 320, 1),
        ("thumbnail", 120, 1),
        ("thumbnail", 240, 2),
    ]
    with pytest.raises(avatarium.InvalidParameterError):
        a.set_policies(thumbnail_height=-5)


def test_purge(client: avatarium.Client) -> None:
    report = client.purge()
    assert report == PurgeReport(0, 0)
    assert report.expired_pending == 0 and report.blobs_deleted == 0


def test_every_method_async(client: avatarium.Client, server: PhotoServer) -> None:
    a = client.accounts

    async def main() -> None:
        coro = a.get_policies_async()
        assert inspect.iscoroutine(coro)
        assert await coro == Policies()
        assert await a.set_policies_async(thumbnail_width=80) == Policies(80, 64)
        r = await a.import_profile_photo_async(server.url("photo.jpg"), uid="a1")
        assert r == ImportResult("a1")
        urls = await a.publish_profile_photo_async(uid="a1")
        assert (await a.get_account_info_async(uid="a1")).photo_url == urls.photo_url
        up = await a.set_profile_photo_async(photo("photo.png"), uid="a1", publish=True)
        assert up.thumbnail_url is not None and up.thumbnail_url.endswith(".png")
        assert await a.remove_profile_photo_async(uid="a1") == "a1"
        reg = await a.init_registration_async()
        info = await a.finalize_registration_async(reg.reg_token)
        assert info == AccountInfo(reg.uid, True)
        assert isinstance(await client.purge_async(), PurgeReport)
        env = await client.call_async("accounts.getPolicies")
        assert env["profilePhoto"] == {
            "thumbnailWidth": 80,
            "thumbnailHeight": 64,
            "thumbnailCrop": "center",
            "thumbnailScales": [1],
        }

    asyncio.run(main())


def test_async_calls_run_concurrently(client: avatarium.Client, server: PhotoServer) -> None:
    async def main() -> list[ImportResult]:
        return await asyncio.gather(
            *(client.accounts.import_profile_photo_async(server.url("photo.png"), uid=f"c{i}") for i in range(8))
        )

    results = asyncio.run(main())
    assert [r.uid for r in results] == [f"c{i}" for i in range(8)]


def test_async_coroutine_can_be_made_outside_a_loop(client: avatarium.Client) -> None:
    coro = client.accounts.get_policies_async()  # no running loop yet: still fine
    assert asyncio.run(coro) == Policies()


def test_call_envelope_form(client: avatarium.Client, server: PhotoServer) -> None:
    r = client.call(
        "accounts.importProfilePhoto",
        {"URL": server.url("photo.jpg"), "UID": "g1", "publish": True, "context": {"n": [1, 2.5, None, True]}},
    )
    assert r["errorCode"] == 0 and r["statusCode"] == 200 and r["statusReason"] == "OK"
    assert r["UID"] == "g1" and r["photoURL"].endswith(".jpg")
    assert r["context"] == {"n": [1, 2.5, None, True]}
    assert isinstance(r["callId"], str) and len(r["callId"]) == 32
    # API errors come back in the envelope, never raised
    r = client.call("accounts.publishProfilePhoto", {"UID": "nobody"})
    assert r["errorCode"] == 403005 and r["statusCode"] == 403 and r["errorMessage"] == "Unauthorized user"
    r = client.call("accounts.noSuchMethod")
    assert r["errorCode"] == 400006
    r = client.call("accounts.getPolicies", None)
    assert r["errorCode"] == 0
    # a tuple is a JSON array; a mapping other than dict is accepted
    r = client.call("accounts.getPolicies", {"context": ("a", 1)})
    assert r["context"] == ["a", 1]


def test_call_refuses_values_that_are_not_json(client: avatarium.Client) -> None:
    with pytest.raises(TypeError):
        client.call("accounts.getPolicies", {"context": object()})
    with pytest.raises(TypeError):
        client.call("accounts.getPolicies", {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        client.call("accounts.getPolicies", {"context": float("nan")})


def test_results_are_frozen_and_readable() -> None:
    r = ImportResult("u", "file:///p.jpg", "file:///t.jpg")
    assert repr(r) == "ImportResult(uid='u', photo_url='file:///p.jpg', thumbnail_url='file:///t.jpg')"
    assert repr(AccountInfo("u", False)) == "AccountInfo(uid='u', is_registered=False, photo_url=None, thumbnail_url=None)"
    assert repr(Policies()) == (
        "Policies(thumbnail_width=64, thumbnail_height=64, thumbnail_crop='center', thumbnail_scales=[1])"
    )
    t = avatarium.Rendition("thumbnail", "jpeg", 128, 128, 2, "file:///t2.jpg")
    assert repr(PhotoUrls("a", "b", [t])) == (
        "PhotoUrls(photo_url='a', thumbnail_url='b', renditions=[Rendition(kind='thumbnail', "
        "format='jpeg', width=128, height=128, scale=2, url='file:///t2.jpg')])"
    )
    assert PhotoUrls("a", "b", [t]).renditions == [t] and PhotoUrls("a", "b") != PhotoUrls("a", "b", [t])
    assert repr(PurgeReport(1, 2, 3)) == (
        "PurgeReport(expired_pending=1, blobs_deleted=2, abandoned_registrations=3)"
    )
    assert repr(PhotoUrls("a", "b")) == "PhotoUrls(photo_url='a', thumbnail_url='b')"
    with pytest.raises(AttributeError):
        r.uid = "v"  # type: ignore[misc]
    assert len({Policies(), Policies(64, 64), Policies(1, 1)}) == 2
    assert ImportResult("u") != ImportResult("v")


def test_settings_and_life_cycle(settings: dict[str, Any], tmp_path: Path) -> None:
    c = avatarium.Client(**settings)
    assert not c.closed and "open" in repr(c)
    c.close()
    c.close()  # idempotent
    assert c.closed
    with pytest.raises(RuntimeError):
        c.accounts.get_policies()
    with pytest.raises(RuntimeError):
        c.call("accounts.getPolicies")


def test_camel_case_settings_are_accepted(tmp_path: Path) -> None:
    with avatarium.Client(dataDir=str(tmp_path / "d"), maxPhotoBytes=10) as c:
        with pytest.raises(avatarium.PhotoTooLargeError):
            c.accounts.set_profile_photo(photo("photo.jpg"), uid="x")


def test_config_file(tmp_path: Path, server: PhotoServer) -> None:
    toml = tmp_path / "pp.toml"
    toml.write_text(
        f'data_dir = "{tmp_path / "data"}"\nallow_loopback = true\nfetch_allowed_ports = [{server.port}]\n'
        'secrets = ["0123456789abcdef0123456789abcdef"]\n'
    )
    with avatarium.Client(config_file=toml) as c:
        assert c.accounts.import_profile_photo(server.url("photo.png"), uid="f1").uid == "f1"
    assert (tmp_path / "data" / "avatarium.db").exists()
    with pytest.raises(TypeError):
        avatarium.Client(config_file=toml, data_dir=str(tmp_path))


def test_environment_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATARIUM_MAX_PHOTO_BYTES", "10")
    with avatarium.Client(data_dir=tmp_path / "plain") as c:
        assert c.accounts.set_profile_photo(photo("photo.jpg"), uid="x").uid == "x"
    with avatarium.Client(data_dir=tmp_path / "env", use_env=True) as c:
        with pytest.raises(avatarium.PhotoTooLargeError):
            c.accounts.set_profile_photo(photo("photo.jpg"), uid="x")


def test_bad_settings_raise_invalid_parameter(tmp_path: Path) -> None:
    with pytest.raises(avatarium.InvalidParameterError) as e:
        avatarium.Client(data_dir=tmp_path, no_such_key=1)
    assert isinstance(e.value, ValueError)
    assert "no_such_key" in str(e.value)
    assert e.value.call_id is None
    with pytest.raises(avatarium.InvalidParameterError):
        avatarium.Client(data_dir=tmp_path, jpeg_quality=0)
    with pytest.raises(avatarium.InvalidParameterError):
        avatarium.Client(config_file=tmp_path / "missing.toml")
    with pytest.raises(TypeError):
        avatarium.Client(data_dir=object())


def test_version() -> None:
    assert isinstance(avatarium.__version__, str) and avatarium.__version__.count(".") == 2


def test_cancelling_an_async_call(settings: dict[str, Any], server: PhotoServer) -> None:
    with avatarium.Client(**{**settings, "fetch_timeout_ms": 8000}) as c:

        async def main() -> None:
            task = asyncio.ensure_future(c.accounts.import_profile_photo_async(server.url("hang"), uid="x"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.call_async("accounts.importProfilePhoto", {"UID": "x", "url": server.url("hang")}), 0.3)
            assert await c.accounts.get_policies_async() == Policies()

        started = time.monotonic()
        asyncio.run(main())
        assert time.monotonic() - started < 4  # not the 8 s fetch timeout
