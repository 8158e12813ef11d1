"""Serve the benchmark site on 127.0.0.1 (ephemeral port) from a thread, counting hits.

``BenchSite`` is the responder, ``(method, path_with_query, headers) -> Reply``, the
interface of ``takedown.demo.server.SiteServer``; that server is used when it exists,
otherwise ``LocalServer``, a small ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive).
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self

from bench.pages import build_pages

ROBOTS = b"User-agent: *\nDisallow:\n"


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def server_classes() -> tuple[type, type]:
    """(server, reply) classes: the demo site's if present, else ours."""
    try:
        from takedown.demo.server import Reply as DemoReply
        from takedown.demo.server import SiteServer
    except ImportError:
        return LocalServer, Reply
    return SiteServer, DemoReply


class BenchSite:
    """The 1,011 pages plus ``/robots.txt``; ``hits`` counts requests per path."""

    def __init__(self, reply: type = Reply) -> None:
        self.pages = build_pages()
        self.reply = reply
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, method: str, path: str, headers: Any) -> Any:
        with self._lock:
            self.hits[path] += 1
        if path == "/robots.txt":
            return self.reply(200, {"Content-Type": "text/plain"}, ROBOTS)
        body = self.pages.get(path)
        if body is None:
            return self.reply(404, {"Content-Type": "text/plain"}, b"not found\n")
        return self.reply(200, {"Content-Type": "text/html; charset=utf-8"}, body)

    def take_hits(self) -> Counter[str]:
        """The hits since the last call, robots.txt and takedown's not-found probe left
        out (neither is a page of the site); the counter starts afresh."""
        with self._lock:
            hits, self.hits = self.hits, Counter()
        return Counter({p: n for p, n in hits.items()
                        if p != "/robots.txt" and "/takedown-probe-" not in p})


class LocalServer:
    """``with LocalServer(responder) as s:`` serves on ``s.base_url`` until the block ends."""

    def __init__(self, responder: Any) -> None:
        handler = type("Handler", (_Handler,), {"responder": staticmethod(responder)})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    responder: Any

    def do_GET(self) -> None:
        reply = self.responder(self.command, self.path, self.headers)
        self.send_response(reply.status)
        for name, value in dict(reply.headers).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # 2,000 requests a run: keep the terminal for the report
