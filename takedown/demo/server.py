"""A threaded HTTP server bound to loopback that answers through a *responder* function.

`SiteServer` runs a `ThreadingHTTPServer` in a daemon thread and hands every request to a
`Responder`, a plain function ``(method, path_with_query, request_headers) -> Reply``. The
`Reply` can ask for a delay (slow pages, timeouts) or a transport fault: ``"reset"`` closes
the socket with a TCP RST and no answer, ``"truncate"`` announces a longer Content-Length
than it sends and then closes, ``"reset-body"`` sends the headers and half the body and
then resets, ``"trickle"`` sends the body a few bytes at a time, ``delay`` seconds apart.
The server counts requests per path (``hits``), never logs to stderr, survives clients that
vanish mid-answer, and refuses to bind anything but loopback.

Used by the bundled demo site (`takedown.demo.site`) and by tests. Imports the stdlib and
`snapshots.urls` (the one loopback rule).
"""

from __future__ import annotations

import collections
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from snapshots.urls import is_loopback

log = logging.getLogger(__name__)

FAULTS = frozenset({"reset", "truncate", "reset-body", "trickle"})
TRICKLE_BYTES = 16
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Reply:
    """One answer: status, headers, body, and optionally a delay or a transport fault."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    fault: str | None = None

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {sorted(FAULTS)}")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")


Responder = Callable[[str, str, Mapping[str, str]], Reply]


def require_loopback(host: str) -> None:
    """Raise ValueError unless *host* is ``localhost`` or a loopback IP literal.

    >>> require_loopback("127.0.0.1")
    >>> require_loopback("0.0.0.0")
    Traceback (most recent call last):
    ...
    ValueError: refusing to bind non-loopback host '0.0.0.0'
    """
    if not is_loopback(host):
        raise ValueError(f"refusing to bind non-loopback host {host!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: SiteServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a vanished client is routine here.
        # socketserver calls this from inside its `except Exception:` block.
        log.debug("error while serving %s", client_address, exc_info=True)  # noqa: LOG014


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections give up after this many seconds

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer(send_body=True)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def _answer(self, send_body: bool) -> None:
        site = self.server.site
        site.count(self.path)
        reply = site.respond(self.command, self.path, dict(self.headers.items()))
        if reply.delay and reply.fault != "trickle":
            time.sleep(reply.delay)
        try:
            if reply.fault == "reset":
                self._reset()
            else:
                self._send(reply, send_body)
        except _DISCONNECTS:
            log.debug("client went away during %s %s", self.command, self.path)
            self.close_connection = True

    def _send(self, reply: Reply, send_body: bool) -> None:
        body = reply.body
        declared = len(body)
        if reply.fault == "truncate":
            declared, body = len(body) + 4096, body[: len(body) // 2]
            self.close_connection = True
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(declared))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not (send_body and body):
            return
        if reply.fault == "reset-body":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._reset()
        elif reply.fault == "trickle":
            for start in range(0, len(body), TRICKLE_BYTES):
                self.wfile.write(body[start:start + TRICKLE_BYTES])
                self.wfile.flush()
                time.sleep(reply.delay)
        else:
            self.wfile.write(body)

    def _reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send RST instead of FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # makefile() holds a reference that would keep the fd open
        self.connection.close()


class SiteServer:
    """Serve a responder on loopback from a daemon thread; a context manager.

    >>> with SiteServer(lambda m, p, h: Reply(body=b"hi")) as srv:
    ...     srv.base_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, responder: Responder, host: str = "127.0.0.1", port: int = 0) -> None:
        require_loopback(host)
        self.responder = responder
        self.host = host
        self.port = port
        self.hits: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SiteServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SiteServer:
        if self._httpd is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        httpd = server_class((self.host, self.port), _Handler)
        httpd.site = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"SiteServer:{self.port}", daemon=True,
        )
        self._thread.start()
        log.debug("serving on %s", self.base_url)
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def respond(self, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        """Ask the responder; a responder bug becomes a logged 500, not a dead connection."""
        try:
            return self.responder(method, path, headers)
        except Exception:
            log.exception("responder failed on %s %s", method, path)
            return Reply(500, {"Content-Type": "text/plain; charset=utf-8"}, b"responder error\n")

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
