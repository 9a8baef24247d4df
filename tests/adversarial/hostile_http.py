"""A local HTTP server on 127.0.0.1 that answers the way a hostile or broken image host does.

    with serve_hostile(interval_s=0.05, stop_after_s=30) as base_url:
        load_image(f"{base_url}/drip")        # one byte every interval_s, for ever (until stop_after_s)

Routes: /drip (a body that trickles in one byte at a time), /drip-headers (a header that never
ends, one byte at a time), /endless (a body that never ends),
/huge-length (a Content-Length of a terabyte), /short-length (fewer bytes than announced),
/bad-status (a status line that is not HTTP), /redirect-file, /redirect-ftp, /redirect-data,
/redirect-loop, /html (a web page), /png (a small PNG), /truncated-png (half of it). Every
response stops by itself after `stop_after_s` or when the client hangs up, so a regression fails
its test instead of keeping a thread alive; the server is shut down on exit.
"""

from __future__ import annotations

import http.server
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import PIL.Image

from tests.http_server import serve

CHUNK = b"\0" * 65536


def png_bytes(size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class HostileHandler(http.server.BaseHTTPRequestHandler):
    interval_s = 0.05
    stop_after_s = 30.0
    redirects = {
        "/redirect-file": "file:///etc/hostname",
        "/redirect-ftp": "ftp://127.0.0.1/x.png",
        "/redirect-data": "data:image/png;base64,AAAA",
        "/redirect-loop": "/redirect-loop",
    }

    def log_message(self, format: str, *args: Any) -> None:  # no request log on stderr
        pass

    def do_GET(self) -> None:
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def route(self) -> None:
        path = self.path.split("?")[0]
        if path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[path])
            self.end_headers()
        elif path == "/bad-status":
            self.wfile.write(b"NOT-HTTP garbage\r\n\r\n")
        elif path == "/drip":
            self.headers_for("image/png")
            self.trickle(lambda: self.wfile.write(b"\x89"), self.interval_s)
        elif path == "/drip-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            self.trickle(lambda: self.wfile.write(b"a"), self.interval_s)
        elif path == "/endless":
            self.headers_for("image/png")
            self.trickle(lambda: self.wfile.write(CHUNK), 0.0)
        elif path == "/huge-length":
            self.headers_for("image/png", length=10**12)
            self.wfile.write(png_bytes())
        elif path == "/short-length":
            self.headers_for("image/png", length=10_000)
            self.wfile.write(png_bytes()[:100])
        elif path == "/html":
            self.body(b"<html><body>not an image</body></html>", "text/html")
        elif path == "/png":
            self.body(png_bytes(), "image/png")
        elif path == "/truncated-png":
            data = png_bytes((64, 64))
            self.body(data[: len(data) // 2], "image/png")
        else:
            self.send_error(404)

    def headers_for(self, content_type: str, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def body(self, data: bytes, content_type: str) -> None:
        self.headers_for(content_type, len(data))
        self.wfile.write(data)

    def trickle(self, write: Any, interval_s: float) -> None:
        deadline = time.monotonic() + self.stop_after_s
        while time.monotonic() < deadline:
            write()
            self.wfile.flush()
            if interval_s:
                time.sleep(interval_s)


@contextmanager
def serve_hostile(interval_s: float = 0.05, stop_after_s: float = 30.0) -> Iterator[str]:
    """Serve the hostile routes on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = type("Handler", (HostileHandler,), {"interval_s": interval_s, "stop_after_s": stop_after_s})
    with serve(handler) as url:
        yield url
