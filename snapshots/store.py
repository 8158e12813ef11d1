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
_compressor = zstandard.ZstdCompressor(level=_LEVEL)
_decompressor = zstandard.ZstdDecompressor()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> tuple[str, str, bytes]:
    """(sha256, codec, stored bytes) for *data*."""
    return sha256_hex(data), "zstd", _compressor.compress(data)


def unpack(codec: str, stored: bytes) -> bytes:
    if codec == "zstd":
        return _decompressor.decompress(stored)
    if codec == "raw":
        return stored
    raise ValueError(f"unknown blob codec {codec!r}")
