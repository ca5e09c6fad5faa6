"""Calling avatarium from an async web handler, with the standard library only.

A tiny JSON service on ``asyncio`` streams; each handler awaits the ``*_async`` API, so the
event loop keeps serving other requests while photos are fetched and processed:

    POST /users/<uid>/photo           {"url": "...", "publish": false}  -> 200 {"uid", "photoURL"?, ...}
    POST /users/<uid>/photo/publish                                      -> 200 {"photoURL", "thumbnailURL"}
    GET  /users/<uid>                                                    -> 200 {"uid", "isRegistered", ...}

API errors become the HTTP status of the error (``e.status_code``) and a JSON body with the
Gigya ``errorCode``, the stable ``code`` and ``details``.

Run: ``python examples/python/web_handler.py`` starts a photo server and the service on
127.0.0.1, sends a few requests to it and prints the answers (used as a test).
``python examples/python/web_handler.py --serve PORT`` only serves (allows no loopback fetches).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import avatarium

PHOTO = Path(__file__).resolve().parent.parent / "photos" / "astronaut.png"
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error",
           503: "Service Unavailable", 504: "Gateway Timeout"}


# ---- the application ----

class PhotoService:
    def __init__(self, client: avatarium.Client) -> None:
        self.accounts = client.accounts

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        try:
            if method == "POST" and len(parts) == 3 and parts[0] == "users" and parts[2] == "photo":
                request = json.loads(body or b"{}")
                result = await self.accounts.import_profile_photo_async(
                    str(request.get("url", "")), uid=parts[1], publish=bool(request.get("publish", False))
                )
                return 200, {"uid": result.uid, "published": result.published,
                             "photoURL": result.photo_url, "thumbnailURL": result.thumbnail_url}
            if method == "POST" and parts[:1] == ["users"] and parts[2:] == ["photo", "publish"]:
                urls = await self.accounts.publish_profile_photo_async(uid=parts[1])
                return 200, {"photoURL": urls.photo_url, "thumbnailURL": urls.thumbnail_url}
            if method == "GET" and len(parts) == 2 and parts[0] == "users":
                info = await self.accounts.get_account_info_async(uid=parts[1])
                return 200, {"uid": info.uid, "isRegistered": info.is_registered,
                             "photoURL": info.photo_url, "thumbnailURL": info.thumbnail_url}
            return 404, {"error": "no such route"}
        except avatarium.ProfilePhotoError as e:
            return e.status_code, {"errorCode": e.error_code, "code": e.code, "details": e.details,
                                   "callId": e.call_id}
        except json.JSONDecodeError:
            return 400, {"error": "the body is not JSON"}


# ---- a minimal HTTP/1.1 server and client on asyncio streams ----

async def read_message(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return first, headers, body


def serve(service: PhotoService) -> Any:
    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first, _, body = await read_message(reader)
            method, path, _ = first.split(" ", 2)
            status, payload = await service.handle(method, path, body)
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    return on_connection


async def request(port: int, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b"" if payload is None else json.dumps(payload).encode()
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    status_line, _, data = await read_message(reader)
    writer.close()
    return int(status_line.split()[1]), json.loads(data)


async def photo_server() -> asyncio.Server:
    """Serves the sample photo at any path (the user's photo host)."""
    body = PHOTO.read_bytes()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(on_connection, "127.0.0.1", 0)


# ---- the demo ----

async def demo(data_dir: str) -> int:
    photos = await photo_server()
    photo_port = photos.sockets[0].getsockname()[1]
    with avatarium.Client(data_dir=data_dir, allow_addresses=["127.0.0.1"], fetch_allowed_ports=[photo_port]) as client:
        app = await asyncio.start_server(serve(PhotoService(client)), "127.0.0.1", 0)
        port = app.sockets[0].getsockname()[1]
        photo_url = f"http://127.0.0.1:{photo_port}/me.png"
        async with app, photos:
            checks = [
                (await request(port, "POST", "/users/alice/photo", {"url": photo_url}), 200),
                (await request(port, "GET", "/users/alice"), 200),
                (await request(port, "POST", "/users/alice/photo/publish"), 200),
                (await request(port, "GET", "/users/alice"), 200),
                (await request(port, "POST", "/users/alice/photo/publish"), 409),  # nothing pending
                (await request(port, "GET", "/users/nobody"), 403),
                (await request(port, "POST", "/users/bob/photo", {"url": "http://10.0.0.1/x.png"}), 404),
            ]
            # several users at once: the handlers interleave on one event loop
            many = await asyncio.gather(
                *(request(port, "POST", f"/users/u{i}/photo", {"url": photo_url, "publish": True}) for i in range(4))
            )
            checks += [(r, 200) for r in many]
        ok = True
        for (status, body), want in checks:
            print(status, json.dumps(body))
            ok &= status == want
        published = checks[3][0][1]
        ok &= published["photoURL"] is not None and published["photoURL"] == checks[2][0][1]["photoURL"]
    print("web handler example:", "ok" if ok else "FAILED")
    return 0 if ok else 1


async def serve_forever(port: int, data_dir: str) -> None:
    with avatarium.Client(data_dir=data_dir) as client:
        server = await asyncio.start_server(serve(PhotoService(client)), "127.0.0.1", port)
        print(f"listening on http://127.0.0.1:{port}")
        async with server:
            await server.serve_forever()


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve_forever(int(sys.argv[2]), "avatarium-data"))
        return 0
    with tempfile.TemporaryDirectory() as data_dir:
        return asyncio.run(demo(data_dir))


if __name__ == "__main__":
    sys.exit(main())
