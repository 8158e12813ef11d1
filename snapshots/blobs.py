"""Content-addressed body encoding: SHA-256 keys, zstandard compression, deltas.

Pure helpers (no database): the repo decides where the bytes go.  A blob's key is the
SHA-256 of the raw bytes, so the same body stored twice costs one row.

Codecs: ``zstd`` (a full version, a "keyframe"), ``zdelta`` (zstd compressed with another
blob's raw bytes, its *base*, as a raw-content dictionary: a page whose counter or token
changed costs a few dozen bytes), ``zsibling`` (a keyframe encoded like ``zdelta`` against
a full keyframe of another page of the same site, which shares its template), ``raw``.
A ``zdelta``'s base is a keyframe (``zstd``, ``raw`` or ``zsibling``), a ``zsibling``'s base
is full (``zstd`` or ``raw``): a read decodes at most three frames.

>>> base = b"<p>visits: 1</p>" + b"<p>an article</p>" * 200
>>> key, codec, packed = pack_delta(base.replace(b"1", b"2"), base)
>>> codec, len(packed) < 40, unpack(codec, packed, base=base) == base.replace(b"1", b"2")
('zdelta', True, True)

>>> key, codec, packed = pack(b"hello " * 100)
>>> key[:12], codec, unpack(codec, packed) == b"hello " * 100
('7e1509a85349', 'zstd', True)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import zstandard

_LEVEL = 6
# The most of one blob a reader that shows or reports captures (viewer, reports) decodes:
# the crawl's default max_size, so a body kept whole by default is shown whole, and a store
# crawled with max_size = 0 cannot make a page view or a report hold a gigabyte.
READ_CAP = 10 * 1024 * 1024
_compressor = zstandard.ZstdCompressor(level=_LEVEL)
_decompressor = zstandard.ZstdDecompressor()
DELTA = "zdelta"
SIBLING = "zsibling"
FULL = frozenset({"zstd", "raw"})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> tuple[str, str, bytes]:
    """(sha256, codec, stored bytes) for *data*."""
    return sha256_hex(data), "zstd", _compressor.compress(data)


def pack_delta(data: bytes, base: bytes) -> tuple[str, str, bytes]:
    """(sha256, ``zdelta``, stored bytes) for *data* compressed against *base*."""
    packed = zstandard.ZstdCompressor(level=_LEVEL, dict_data=_dictionary(base)).compress(data)
    return sha256_hex(data), DELTA, packed


def _dictionary(base: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def unpack(codec: str, stored: bytes, limit: int | None = None,
           base: bytes | None = None) -> bytes:
    """The blob's bytes; with *limit*, at most its first *limit* bytes, decoding no more
    (a stored prefix, see ``stored_prefix``, decodes to the blob's prefix).  A ``zdelta``
    (or ``zsibling``) blob needs its *base*'s raw bytes."""
    if codec in (DELTA, SIBLING):
        if base is None:
            raise ValueError(f"a {codec} blob decodes only with its base")
        return _zstd(zstandard.ZstdDecompressor(dict_data=_dictionary(base)), stored, limit)
    if codec == "zstd":
        return _zstd(_decompressor, stored, limit)
    if codec == "raw":
        return stored if limit is None else stored[:limit]
    raise ValueError(f"unknown blob codec {codec!r}")


def _zstd(decompressor: zstandard.ZstdDecompressor, stored: bytes,
          limit: int | None) -> bytes:
    if limit is None:
        return decompressor.decompress(stored)
    out = bytearray()
    with decompressor.stream_reader(stored, read_across_frames=True) as reader:
        while len(out) < limit:
            chunk = reader.read(min(limit - len(out), 1 << 20))
            if not chunk:
                break
            out += chunk
    return bytes(out)


def stored_prefix(limit: int) -> int:
    """How many stored bytes to read to decode a blob's first *limit* bytes."""
    return limit + limit // 1024 + 4096


def pack_links(links: Sequence[tuple[str, str]]) -> tuple[str, int, bytes]:
    """(sha256, count, stored bytes) of a page's links, ``(url, text)`` in page order: the
    key is the SHA-256 of the JSON list of ``[url, text]`` the stored bytes decode to.
    Stored full (a plain zstd frame); see `pack_links_delta` for the delta form.

    >>> key, n, packed = pack_links([("http://x/a", "A"), ("http://x/b", "")])
    >>> n, unpack_links(packed)
    (2, [('http://x/a', 'A'), ('http://x/b', '')])
    """
    raw = links_json(links)
    return sha256_hex(raw), len(links), pack_links_raw(raw)


def pack_links_raw(raw: bytes) -> bytes:
    """The stored bytes of a full link set from its JSON (see `links_json`)."""
    return _compressor.compress(raw)


def pack_links_delta(raw: bytes, base_key: str, base_raw: bytes, nth: int) -> bytes:
    """The stored bytes of a link set's JSON *raw* as a delta: the *nth* (1..255) against
    the full set *base_key*, whose JSON *base_raw* is the zstd dictionary.

    The format is told by the first byte: a full set is a bare zstd frame (its magic
    ``28 b5 2f fd``), a delta is ``LINKS_DELTA``, *nth*, the base's 32-byte digest, then the
    frame.  A delta's base is always full, so a read decodes at most two frames.

    >>> old = links_json([(f"http://x/{i}", f"item {i}") for i in range(50)])
    >>> new = links_json([("http://x/new", "new")] + [(f"http://x/{i}", f"item {i}")
    ...                                                for i in range(50)])
    >>> packed = pack_links_delta(new, sha256_hex(old), old, 1)
    >>> len(packed) < 70, links_base(packed) == (sha256_hex(old), 1)
    (True, True)
    >>> unpack_links(packed, old)[0]
    ('http://x/new', 'new')
    """
    frame = zstandard.ZstdCompressor(level=_LEVEL, dict_data=_dictionary(base_raw),
                                     write_content_size=True).compress(raw)
    return bytes([LINKS_DELTA, nth]) + bytes.fromhex(base_key) + frame


LINKS_DELTA = 0x01
_LINKS_HEAD = 34    # tag, nth, base digest


def links_head() -> int:
    """How many stored bytes tell a link set's format and base (see `links_base`)."""
    return _LINKS_HEAD


def links_base(stored: bytes) -> tuple[str, int] | None:
    """(base key, nth delta against it) of a delta link set; None for a full one.  Reads
    only the first `links_head` bytes.  ValueError when the format is unknown."""
    if stored[:1] == bytes([LINKS_DELTA]) and len(stored) >= _LINKS_HEAD:
        return stored[2:_LINKS_HEAD].hex(), stored[1]
    if stored[:4] == b"\x28\xb5\x2f\xfd":
        return None
    raise ValueError("unknown link set format")


def links_json(links: Sequence[tuple[str, str]]) -> bytes:
    return json.dumps([[u, t] for u, t in links], ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def unpack_links_json(stored: bytes, base: bytes | None = None) -> bytes:
    """A stored link set's JSON; a delta needs its *base*'s JSON (see `links_base`)."""
    if links_base(stored) is None:
        return _decompressor.decompress(stored)
    if base is None:
        raise ValueError("a delta link set decodes only with its base")
    return zstandard.ZstdDecompressor(dict_data=_dictionary(base)).decompress(
        stored[_LINKS_HEAD:])


def unpack_links(stored: bytes, base: bytes | None = None) -> list[tuple[str, str]]:
    """A stored link set back as ``(url, text)`` pairs in page order (a delta with its
    *base*'s JSON)."""
    return [(u, t) for u, t in json.loads(unpack_links_json(stored, base))]
