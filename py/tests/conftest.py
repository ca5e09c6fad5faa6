"""Fixtures: a loopback HTTP server for the photos, and fresh clients on temporary stores."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import avatarium

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "conformance" / "files"


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/<file>`` serves ``conformance/files/<file>``; ``/hang`` accepts and never answers
    (until the client goes away or 10 s pass); anything else is 404."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.hits[self.path] += 1  # type: ignore[attr-defined]
        name = self.path.split("?", 1)[0].lstrip("/")
        if name.startswith("hang"):
            self._hang()
            return
        path = FILES / name
        if "/" in name or not name or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _hang(self) -> None:
        self.server.hangs_started.release()  # type: ignore[attr-defined]
        self.connection.settimeout(0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.connection.recv(1) == b"":
                    break  # the client gave up
            except TimeoutError:
                continue
            except OSError:
                break
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PhotoServer:
    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        # Released once per request to /hang that the server has started to sit on.
        self.hangs_started = threading.Semaphore(0)
        self.httpd.hangs_started = self.hangs_started  # type: ignore[attr-defined]
        # Requests per path (query included), for tests that count fetches.
        self.hits: Counter[str] = Counter()
        self.httpd.hits = self.hits  # type: ignore[attr-defined]
        self.httpd.lock = threading.Lock()  # type: ignore[attr-defined]
        self.port: int = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def fetches(self, prefix: str) -> int:
        """Requests so far whose path starts with ``/prefix``."""
        with self.httpd.lock:  # type: ignore[attr-defined]
            return sum(n for path, n in self.hits.items() if path.startswith("/" + prefix))

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def server() -> Iterator[PhotoServer]:
    s = PhotoServer()
    yield s
    s.close()


@pytest.fixture
def settings(server: PhotoServer, tmp_path: Path) -> dict[str, Any]:
    """The conformance runner's set-up (conformance/README.md)."""
    return {
        "data_dir": tmp_path / "data",
        "allow_loopback": True,
        "fetch_allowed_ports": [server.port],
        "max_photo_bytes": 100_000,
    }


@pytest.fixture
def client(settings: dict[str, Any]) -> Iterator[avatarium.Client]:
    with avatarium.Client(**settings) as c:
        yield c


def photo(name: str) -> bytes:
    return (FILES / name).read_bytes()
