"""Content-addressed body encoding: SHA-256 keys, zstandard compression.

Pure helpers (no database): the repo decides where the bytes go.  A blob's key is the
SHA-256 of the raw bytes, so the same body stored twice costs one row.

>>> key, codec, packed = pack(b"hello " * 100)
>>> key[:12], codec, unpack(codec, packed) == b"hello " * 100
('7e1509a85349', 'zstd', True)
"""

from __future__ import annotations

import hashlib

import zstandard

_LEVEL = 6
# The most of one blob a reader that shows or reports captures (viewer, reports) decodes:
# the crawl's default max_size, so a body kept whole by default is shown whole, and a store
# crawled with max_size = 0 cannot make a page view or a report hold a gigabyte.
READ_CAP = 10 * 1024 * 1024
_compressor = zstandard.ZstdCompressor(level=_LEVEL)
_decompressor = zstandard.ZstdDecompressor()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> tuple[str, str, bytes]:
    """(sha256, codec, stored bytes) for *data*."""
    return sha256_hex(data), "zstd", _compressor.compress(data)


def unpack(codec: str, stored: bytes, limit: int | None = None) -> bytes:
    """The blob's bytes; with *limit*, at most its first *limit* bytes, decoding no more
    (a stored prefix, see ``stored_prefix``, decodes to the blob's prefix)."""
    if codec == "zstd":
        if limit is None:
            return _decompressor.decompress(stored)
        out = bytearray()
        with _decompressor.stream_reader(stored, read_across_frames=True) as reader:
            while len(out) < limit:
                chunk = reader.read(min(limit - len(out), 1 << 20))
                if not chunk:
                    break
                out += chunk
        return bytes(out)
    if codec == "raw":
        return stored if limit is None else stored[:limit]
    raise ValueError(f"unknown blob codec {codec!r}")


def stored_prefix(limit: int) -> int:
    """How many stored bytes to read to decode a blob's first *limit* bytes."""
    return limit + limit // 1024 + 4096
