"""The seed's code sample in Python: ``accounts.importProfilePhoto`` with ``publish: False``
and a callback that shows the result; then the photo is published.

It serves ``examples/photos/astronaut.png`` from a tiny HTTP server on 127.0.0.1 (the
"MY_SERVER" of the sample), so it runs anywhere without network access. Loopback is refused
by default; the example allows exactly that one address and port.

Run: ``python examples/python/import_then_publish.py`` (after ``pip install ./py``).
"""

from __future__ import annotations

import http.server
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import avatarium

PHOTO = Path(__file__).resolve().parent.parent / "photos" / "astronaut.png"


def show_photo_info(response: dict[str, Any]) -> None:
    """The sample's ``showPhotoInfo(response)``."""
    if response["errorCode"] == 0:
        print("Photo imported:", response)
    else:
        print(f"Error: {response['errorMessage']} ({response['errorCode']}): {response['errorDetails']}")


def serve_photo() -> http.server.HTTPServer:
    """Serve the sample photo at any path of a loopback port."""
    body = PHOTO.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    photo_server = serve_photo()
    host, port = "127.0.0.1", photo_server.server_port
    with tempfile.TemporaryDirectory() as data, avatarium.Client(
        data_dir=data,
        allow_addresses=[host],
        fetch_allowed_ports=[port],
    ) as client:
        client.accounts.set_policies(thumbnail_width=64, thumbnail_height=64)

        # function doImportPhoto() {
        #     gigya.accounts.importProfilePhoto({URL: ..., publish: false, callback: showPhotoInfo}) }
        photo_params = {
            "UID": "example-user",
            "URL": f"http://{host}:{port}/path/to/photo.png",
            "publish": False,
        }
        response = client.call("accounts.importProfilePhoto", photo_params)
        show_photo_info(response)
        if response["errorCode"] != 0:
            return 1

        # Later: publish it (the typed API raises on errors instead of returning envelopes).
        urls = client.accounts.publish_profile_photo(uid="example-user")
        print("Published:", urls)
        info = client.accounts.get_account_info(uid="example-user")
        print("Account:", info)
        if info.thumbnail_url is None or info.photo_url != urls.photo_url:
            print("no thumbnailURL after publishing", file=sys.stderr)
            return 1
        print("thumbnailURL =", info.thumbnail_url)
    photo_server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
