"""A feed answer sent as one buffer of bytes: the fast path's response (web/dispatch.py).

aiohttp's ``Response`` builds a header multidict, a payload writer and a status line, and
serialises them on every answer: on a 304 that was most of what a poll cost above a bare
aiohttp app (docs/benchmarks.md). A feed answer's headers are nearly all the same on every
poll, so they are kept as bytes and the answer is written with one ``transport.write``.

``RawAnswer`` stands where aiohttp expects a ``StreamResponse``: its request handler calls
``prepare`` and ``write_eof`` and then reads ``keep_alive``; an access logger reads
``status`` and ``body_length``. Only HTTP/1.1 requests are answered this way (the dispatch
checks), so the status line and the keep-alive rule are HTTP/1.1's. The headers are the
regular path's, which tests/test_dispatch.py holds header by header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE

_STATUS_LINE = {200: b"HTTP/1.1 200 OK\r\n", 304: b"HTTP/1.1 304 Not Modified\r\n"}
_SERVER = f"Server: {SERVER_SOFTWARE}\r\n".encode()
_CLOSE = b"Connection: close\r\n"


def header_bytes(headers: Mapping[str, str]) -> bytes:
    """Fixed headers as they go on the wire, built once."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()


class RawAnswer:
    """A complete HTTP/1.1 answer: status, fixed headers, per-poll headers and body."""

    __slots__ = ("_data", "body_length", "keep_alive", "status")

    def __init__(self, request: web.BaseRequest, status: int, fixed: bytes, varying: bytes,
                 body: bytes = b"", behind: Callable[[bytes], bytes] | None = None,
                 length: int | None = None) -> None:  # fmt: skip
        """The body is ``body``, or what ``behind(head)`` puts behind the head: a cached feed
        fills in the subscriber's link as it copies itself there (CachedFeed.behind), so a
        body of 500 events is copied once per poll, not joined and then copied again.
        ``length``: the body's, which ``behind`` callers know without joining."""
        self.status = status
        self.keep_alive = request.keep_alive
        self.body_length = len(body) if length is None else length
        # RFC 9110: a 304 has no body and, as aiohttp sends it, no Content-Length either.
        content_length = b"" if status == 304 else b"Content-Length: %d\r\n" % self.body_length
        head = b"".join((
            _STATUS_LINE[status], fixed, varying, content_length,
            b"Date: ", rfc822_formatted_time().encode(), b"\r\n", _SERVER,
            b"" if self.keep_alive else _CLOSE, b"\r\n",
        ))  # fmt: skip
        self._data = behind(head) if behind is not None else head + body

    async def prepare(self, request: web.BaseRequest) -> None:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client went away")
        transport.write(self._data)
        # Flow control as aiohttp's writer does it: wait while the socket's buffer is full.
        await request.writer.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        return None
