"""A bounded HTTP(S) GET: a total deadline, a size cap, and redirects to http(s) URLs only.

    body = fetch("https://example.com/cat.png", read_timeout_s=10, deadline_s=60, max_bytes=64 * 2**20)

urllib's timeout bounds each socket read, so a server that sends one byte every few seconds keeps
a download alive for ever, and `response.read()` reads an endless body until memory runs out.
Here a timer shuts the connection's sockets when the deadline passes (while headers are read
too), the body is read in chunks against `max_bytes` (a larger Content-Length is refused before
reading), and only redirects to http(s) URLs are followed (urllib alone follows ftp). Every
failure is a `FetchError` whose `limit` names the bound that was hit ("deadline_s", "max_bytes",
or None) and whose message is in our own words: no status line, reason phrase, header or body a
server sent is repeated.
"""

from __future__ import annotations

import http
import http.client
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class FetchError(Exception):
    """A download that failed or was stopped; `limit` is the bound that stopped it, if one did."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


def fetch(url: str, read_timeout_s: float | None, deadline_s: float, max_bytes: int) -> bytes:
    """The body at the http(s) `url`, read within `deadline_s` seconds in all (each socket read
    waiting at most `read_timeout_s`) and at most `max_bytes` long; `FetchError` otherwise."""
    watch = _Watch(deadline_s)
    opener = urllib.request.build_opener(_WatchedHTTP(watch), _WatchedHTTPS(watch), _HttpRedirectsOnly())
    read_timeout = deadline_s if read_timeout_s is None else min(read_timeout_s, deadline_s)
    try:
        with watch, opener.open(url, timeout=read_timeout) as response:
            return _read_body(response, max_bytes, watch)
    except FetchError:
        raise
    except Exception as error:  # URLError, HTTPException (BadStatusLine, ...), OSError, ValueError
        if watch.expired:
            raise FetchError(f"not complete after {deadline_s} s", "deadline_s") from None
        raise FetchError(_failure(error, read_timeout_s)) from None


def _read_body(response: http.client.HTTPResponse, max_bytes: int, watch: _Watch) -> bytes:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"the server announces {declared} bytes, more than the {max_bytes} bytes accepted", "max_bytes"
        )
    chunks, size = [], 0
    while not watch.expired and (chunk := response.read1(65536)):  # read1: whatever has arrived
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"the body passed {size} bytes, more than the {max_bytes} bytes accepted", "max_bytes")
        chunks.append(chunk)
    if watch.expired:
        raise FetchError(f"not complete after {watch.deadline_s} s", "deadline_s")
    missing = getattr(response, "length", None)
    if missing:  # the connection closed before the announced length
        raise FetchError(f"the body stopped {missing} bytes short")
    return b"".join(chunks)


def _failure(error: Exception, read_timeout_s: float | None) -> str:
    """What went wrong, in words of our own: a server's reason phrase or status line is not repeated."""
    if isinstance(error, urllib.error.HTTPError):
        try:
            phrase = http.HTTPStatus(error.code).phrase
        except ValueError:
            phrase = ""
        return f"HTTP {error.code} {phrase}".rstrip() + (" (a redirect loop?)" if 300 <= error.code < 400 else "")
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"timed out: no data for {read_timeout_s} s"
    if isinstance(reason, http.client.BadStatusLine):
        return "the server's answer is not HTTP (BadStatusLine)"
    if isinstance(reason, http.client.HTTPException):
        return f"the server broke the HTTP protocol ({type(reason).__name__})"
    if isinstance(reason, OSError):
        return f"{type(reason).__name__}: {reason.strerror or reason}"
    return f"{type(reason).__name__}: {str(reason)[:200]}"


class _Watch:
    """The sockets of one download, shut when its deadline passes, so that a server sending a byte
    at a time (each read on time, the whole never done) cannot hold the download open."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s, self.expired, self.sockets = deadline_s, False, []
        self.lock = threading.Lock()
        self.timer = threading.Timer(deadline_s, self.expire)
        self.timer.daemon = True

    def __enter__(self) -> _Watch:
        self.timer.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.timer.cancel()

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)

    def create_connection(self, *args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.create_connection(*args, **kwargs)
        with self.lock:
            self.sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def connection_class(self, http_class: type) -> Any:
        def connect(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            connection = http_class(*args, **kwargs)
            connection._create_connection = self.create_connection  # http.client's hook for the socket
            return connection

        return connect


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, watch: _Watch) -> None:
        super().__init__()
        self.watch = watch

    def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> Any:
        return super().do_open(self.watch.connection_class(http_class), req, **kwargs)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, watch: _Watch) -> None:
        super().__init__()
        self.watch = watch

    def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> Any:
        return super().do_open(self.watch.connection_class(http_class), req, **kwargs)


class _HttpRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) URLs only (urllib alone follows ftp too), at most 5."""

    max_redirections = 5

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri") or ""
        scheme = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, location)).scheme.lower()
        if scheme not in ("http", "https"):
            fp.close()
            raise FetchError(
                f"it redirects to a {scheme[:20] or 'schemeless'}: URL; only http(s) redirects are followed"
            )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302
