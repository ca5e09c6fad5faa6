"""One client shared by many threads at once; the GIL is released while the core works."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import avatarium
from avatarium import AccountInfo, ImportResult

from .conftest import PhotoServer, photo

THREADS = 16


def test_sixteen_threads_one_client(client: avatarium.Client, server: PhotoServer) -> None:
    barrier = threading.Barrier(THREADS)
    png = photo("photo.png")

    def work(i: int) -> tuple[ImportResult, ImportResult, AccountInfo, dict[str, Any]]:
        a = client.accounts
        barrier.wait()  # all threads call at once
        imported = a.import_profile_photo(server.url("photo.jpg"), uid=f"t{i}")
        uploaded = a.set_profile_photo(png, uid=f"t{i}", publish=True)
        info = a.get_account_info(uid=f"t{i}")
        envelope = client.call("accounts.getAccountInfo", {"UID": f"t{i}"})
        return imported, uploaded, info, envelope

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))

    photo_urls = set()
    for i, (imported, uploaded, info, envelope) in enumerate(results):
        assert imported == ImportResult(f"t{i}")
        assert uploaded.published and info.photo_url == uploaded.photo_url
        assert envelope["errorCode"] == 0 and envelope["profile"]["photoURL"] == info.photo_url
        photo_urls.add(info.photo_url)
    assert len(photo_urls) == 1  # same bytes, same content-addressed blob


def test_errors_from_many_threads(client: avatarium.Client) -> None:
    def work(i: int) -> str:
        try:
            client.accounts.get_account_info(uid=f"nobody-{i}")
        except avatarium.UnauthorizedError as e:
            return e.code
        return "no error"

    with ThreadPoolExecutor(THREADS) as pool:
        assert list(pool.map(work, range(THREADS * 4))) == ["UNAUTHORIZED"] * (THREADS * 4)


def test_blocking_call_releases_the_gil(settings: dict[str, Any], server: PhotoServer) -> None:
    with avatarium.Client(**{**settings, "fetch_timeout_ms": 700}) as c:
        done = threading.Event()

        def blocked() -> None:
            try:
                c.accounts.import_profile_photo(server.url("hang"), uid="g")
            except avatarium.RequestTimeoutError:
                pass
            finally:
                done.set()

        t = threading.Thread(target=blocked)
        t.start()
        time.sleep(0.1)
        spins = 0
        while not done.is_set():  # pure-Python work; starves if the GIL were held
            spins += 1
        t.join()
        assert spins > 10_000
