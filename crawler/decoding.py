"""Bodies and texts held to the size cap: content codings undone a chunk at a time.

``decoded_head`` undoes a response's ``Content-Encoding`` (gzip, deflate, br, zstd) the way
a browser does, but never holds more than the cap, so a small body that inflates to
gigabytes (a decompression bomb) costs at most the cap in memory.  The rules:

- codings are undone last first (``Content-Encoding: gzip, br`` is brotli over gzip);
- decoding stops as soon as it has produced more than *cap* bytes: the first *cap* bytes are
  kept and the body is flagged capped; every coding of a chain is capped alike;
- a cap of 0 means no cap;
- a coding we do not know stops decoding: it and the codings under it stay on the body;
- a cut-off body (a download stopped at the cap, a lost connection) decodes to what its
  bytes hold; a body whose coding fails from its first byte is kept as sent, coding named;
- a zstd frame asking for a window above 8 MiB is refused (RFC 9659 caps HTTP's at 8 MB),
  so no frame can make the decoder allocate more.

``head_bytes`` and ``head_text`` cut a body and its decoded text to the cap (the text
counted in UTF-8 bytes, as stored).  Imports nothing of ours.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import brotli
import zstandard

__all__ = ["ACCEPTED", "decoded_head", "head_bytes", "head_text"]

CHUNK = 64 * 1024                 # decoded bytes produced per step
ZSTD_MAX_WINDOW = 8 * 1024 * 1024
ACCEPTED = b"gzip, deflate, br, zstd"   # our Accept-Encoding


def _zlib_chunks(data: bytes, wbits: int) -> Iterator[bytes]:
    """Inflate *data* (gzip members one after another, or one zlib/raw stream)."""
    d = zlib.decompressobj(wbits)
    while True:
        out = d.decompress(data, CHUNK)
        if out:
            yield out
        if d.eof:
            data = d.unused_data
            if wbits != 31 or not data.startswith(b"\x1f\x8b"):
                return
            d = zlib.decompressobj(wbits)   # the next gzip member
            continue
        data = d.unconsumed_tail
        if not data and not out:   # input used up: the stream was cut off
            return


def _deflate_chunks(data: bytes) -> Iterator[bytes]:
    """HTTP's deflate is zlib-wrapped; some servers send it raw."""
    try:
        first = zlib.decompressobj(15).decompress(data[:2])
    except zlib.error:
        first = None
    yield from _zlib_chunks(data, 15 if first is not None else -15)


def _gzip_chunks(data: bytes) -> Iterator[bytes]:
    return _zlib_chunks(data, 31)


def _brotli_chunks(data: bytes) -> Iterator[bytes]:
    d = brotli.Decompressor()
    out = d.process(data, output_buffer_limit=CHUNK)
    while out:
        yield out
        if d.is_finished():
            return
        out = d.process(b"", output_buffer_limit=CHUNK)


def _zstd_chunks(data: bytes) -> Iterator[bytes]:
    d = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    with d.stream_reader(data, read_across_frames=True) as reader:
        while out := reader.read(CHUNK):
            yield out


DECODERS: dict[bytes, Callable[[bytes], Iterator[bytes]]] = {
    b"gzip": _gzip_chunks, b"x-gzip": _gzip_chunks, b"deflate": _deflate_chunks,
    b"br": _brotli_chunks, b"zstd": _zstd_chunks,
}
DECODE_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError, EOFError)


def _head(chunks: Iterator[bytes], cap: int) -> tuple[bytes, bool]:
    """The first *cap* bytes of *chunks* and whether there were more; raises a decode error
    only when nothing decoded (a corrupt tail keeps what came before it)."""
    out = bytearray()
    try:
        for chunk in chunks:
            out += chunk
            if cap and len(out) > cap:
                return bytes(out[:cap]), True
    except DECODE_ERRORS:
        if not out:
            raise
    return bytes(out), False


def codings(values: list[bytes]) -> list[bytes]:
    """The codings of ``Content-Encoding`` header *values*, in the order applied.

    >>> codings([b"gzip, BR", b" identity", b""])
    [b'gzip', b'br']
    """
    out = [c.strip().lower() for v in values for c in v.split(b",")]
    return [c for c in out if c and c != b"identity"]


def decoded_head(body: bytes, values: list[bytes], cap: int
                 ) -> tuple[bytes, bool, list[bytes]]:
    """(*body* decoded, at most *cap* bytes; whether it was capped; the codings left on it).

    >>> import gzip
    >>> decoded_head(gzip.compress(b"abc" * 1000), [b"gzip"], 5)
    (b'abcab', True, [])
    >>> decoded_head(b"plain", [b"compress"], 5)
    (b'plain', False, [b'compress'])
    """
    left = codings(values)
    capped = False
    while left and left[-1] in DECODERS:
        try:
            body, cut = _head(DECODERS[left[-1]](body), cap)
        except DECODE_ERRORS:
            break
        capped = capped or cut
        left.pop()
    return body, capped, left


def head_bytes(body: bytes, cap: int) -> tuple[bytes, bool]:
    """*body* cut to *cap* bytes (0: no cap), and whether it was cut.

    >>> head_bytes(b"abcdef", 4), head_bytes(b"abcdef", 0)
    ((b'abcd', True), (b'abcdef', False))
    """
    if cap and len(body) > cap:
        return body[:cap], True
    return body, False


def head_text(text: str, cap: int) -> tuple[str, bool]:
    """*text* cut to at most *cap* bytes of UTF-8 (as stored), on a character boundary.

    >>> head_text("中文字", 7), head_text("中文", 0)
    (('中文', True), ('中文', False))
    """
    if not cap or len(text) * 4 <= cap:    # no character takes more than 4 bytes
        return text, False
    data = text.encode("utf-8")
    if len(data) <= cap:
        return text, False
    return data[:cap].decode("utf-8", "ignore"), True
