"""Evidence packages: one takedown's captures, verdicts and hashes as a WACZ 1.1.1 file
(``takedown evidence ID``), and their offline check (``takedown verify``).

The package is a zip (every entry stored, not deflated, so a replayer can read the WARC by
range):

* ``archive/data.warc.gz``: the captures the takedown names (`package_roles`: before =
  its last ok capture, after = the first capture that showed it gone, the confirming
  captures of its evidence, and for ``delisted`` the listing page in those two rounds),
  written by `snapshots.warc_export`;
* ``indexes/index.cdx`` (CDXJ), ``pages/pages.jsonl`` (one page per capture);
* ``takedown/takedown.json``: the takedown record and, per capture, its roles, verdict
  (state, kind, rule, detail with the phrase), and SHA-256 of body and text;
  ``takedown/text-ID.txt``: each capture's extracted text, so its hash can be checked;
  for a browser capture also ``takedown/screenshot-ID.png`` (its full-page screenshot) and
  ``takedown/raw-ID.bin`` (the HTTP response's own body; the WARC holds the rendered DOM
  the capture was read from), their SHA-256 in ``takedown.json`` as well;
* ``datapackage.json`` (every other file with ``path``, ``hash`` ``sha256:…`` and
  ``bytes``) and ``datapackage-digest.json`` (the SHA-256 of ``datapackage.json``).

`verify_package` re-checks all of it without the store: exit 1 of the command means
"read, and something does not match" (`Verification.problems` names each), exit 2 "no
readable package" (`PackageUnreadable`).  The package is hostile input: only a regular file
is opened, each entry is read in chunks (a zip bomb is refused unread), nothing is
extracted, and an unsafe entry name (``../x``, ``/x``, ``C:x``) or a JSON value of another
type than this tool writes is a mismatch.  Imports snapshots and warcio.
"""

from __future__ import annotations

import hashlib
import json
import re
import reprlib
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

from snapshots import browse
from snapshots.blobs import sha256_hex
from snapshots.errors import TakedownError
from snapshots.inputs import UnreadableInput, open_regular
from snapshots.warc_export import (
    Selection,
    capture_facts,
    captures_at,
    export_warc,
    text_blob,
)

WACZ_VERSION = "1.1.1"
WARC_PATH = "archive/data.warc.gz"
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
RECORD_PATH = "takedown/takedown.json"
PACKAGE_FILES = ("datapackage.json", "datapackage-digest.json")
# no entry of a package this tool writes comes near these; past them it is refused unread
MAX_ENTRY = 4 << 30
MAX_RATIO = 200
# a package's JSON files are kilobytes; past this they are refused unparsed (a few MiB of
# forged JSON, ``[{},{},…]``, parse into twenty times that)
MAX_JSON = 4 << 20
MAX_NAME = 1024
MAX_HEADERS = 4 << 20   # bytes of one WARC record's header lines, its HTTP headers' with them
CHUNK = 1 << 20
SHA256_HEX = re.compile("[0-9a-f]{64}")
# what reading a damaged zip entry raises besides BadZipFile: a broken deflate stream, a
# cut one, an encrypted entry, an unknown compression method
UNREADABLE = (ValueError, OSError, EOFError, RuntimeError, NotImplementedError,
              zipfile.BadZipFile, zlib.error)
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
EVIDENCE_KEYS = ("last_ok", "first", "page_still_serving", "confirmed")


class PackageUnreadable(TakedownError):
    """Not a package: no zip, or no datapackage.json to check against (exit 2)."""


@dataclass
class Verification:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- writing --------------------------------------------------------------------------------


def package_roles(td: dict) -> dict[int, list[str]]:
    """Capture id → its roles in *td*'s package (before, after, the evidence's own)."""
    roles: dict[int, list[str]] = {}
    ev = td["evidence"] or {}
    named = [("before", td["last_ok_capture_id"]), ("after", td["first_capture_id"])]
    named += [(key, (ev.get(key) or {}).get("capture_id")) for key in EVIDENCE_KEYS]
    for role, cid in named:
        if isinstance(cid, int):
            roles.setdefault(cid, [])
            if role not in roles[cid]:
                roles[cid].append(role)
    return roles


def _listing_roles(store: Any, td: dict, facts: dict[int, dict]) -> dict[int, list[str]]:
    """For ``delisted``: the listing page's captures in the before and after rounds."""
    listing = (td["evidence"] or {}).get("listing") or {}
    if not isinstance(listing.get("url"), str):
        return {}
    out: dict[int, list[str]] = {}
    for role, cid in (("listing before", td["last_ok_capture_id"]),
                      ("listing after", td["first_capture_id"])):
        if cid in facts:
            at = datetime.fromisoformat(facts[cid]["captured_at"])
            for found in captures_at(store, listing["url"], [at]).values():
                out.setdefault(found, []).append(role)
    return out


def _record(td: dict) -> dict:
    return {"id": td["id"], "url": td["url"], "item": td["item"], "kind": td["kind"],
            "target": td["target"], "last_seen": td["last_seen"].isoformat(),
            "detected_at": td["detected_at"].isoformat(),
            "restored_at": None if td["restored_at"] is None else td["restored_at"].isoformat(),
            "rule": (td["evidence"] or {}).get("rule"),
            "phrase": (td["evidence"] or {}).get("phrase"), "evidence": td["evidence"]}


def gather(store: Any, takedown_id: int) -> tuple[dict, dict[int, dict]]:
    """The takedown's record and its captures' facts, each with its ``roles``."""
    td = browse.takedown_detail(store, takedown_id)
    if td is None:
        raise TakedownError(f"no takedown {takedown_id}")
    roles = package_roles(td)
    facts = capture_facts(store, list(roles))
    for cid, more in _listing_roles(store, td, facts).items():
        roles.setdefault(cid, []).extend(more)
    facts = capture_facts(store, list(roles))
    for cid, fact in facts.items():
        fact["roles"] = roles[cid]
    return _record(td), facts


def write_package(store: Any, takedown_id: int, out: BinaryIO) -> str:
    """Write takedown *takedown_id*'s package to *out* (seekable); a summary line.
    TakedownError when there is no such takedown."""
    record, facts = gather(store, takedown_id)
    with tempfile.TemporaryFile() as warc:
        counts = export_warc(store, warc, Selection(capture_ids=tuple(facts)),
                             filename="data.warc.gz", about=f"takedown {takedown_id}")
        warc.seek(0)
        index, pages = _index(warc, facts, record)
        warc.seek(0)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
            resources = [_put_stream(zf, WARC_PATH, warc)]
            resources.append(_put(zf, INDEX_PATH, "".join(sorted(index)).encode()))
            resources.append(_put(zf, PAGES_PATH, pages.encode()))
            for cid, fact in sorted(facts.items()):
                for path, key in _files(cid):
                    data = text_blob(store, fact.get(key))
                    if data is not None:
                        resources.append(_put(zf, path, data))
            captures = [facts[c] for c in sorted(facts)]
            doc = {"format": "takedown-evidence-1", "takedown": record, "captures": captures}
            resources.append(_put(zf, RECORD_PATH, _json(doc)))
            package = _json(_datapackage(record, resources))
            zf.writestr(_info("datapackage.json"), package)
            zf.writestr(_info("datapackage-digest.json"), _json(
                {"path": "datapackage.json", "hash": "sha256:" + sha256_hex(package)}))
    return f"{len(facts)} captures ({counts.summary()}), {len(resources)} files"


def _files(cid: int) -> tuple[tuple[str, str], ...]:
    """(path in the package, key in takedown.json) of a capture's blobs packed beside the
    WARC: its text, and a browser capture's screenshot and raw body."""
    return ((f"takedown/text-{cid}.txt", "text_sha256"),
            (f"takedown/screenshot-{cid}.png", "screenshot_sha256"),
            (f"takedown/raw-{cid}.bin", "raw_sha256"))


def _datapackage(record: dict, resources: list[dict]) -> dict:
    return {"profile": "data-package", "wacz_version": WACZ_VERSION,
            "title": f"takedown {record['id']}: {record['kind']} of {record['url']}",
            "description": "evidence package written by takedown (see docs/evidence.md)",
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": "takedown", "mainPageURL": record["url"],
            "resources": resources}


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _info(path: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    return info


def _resource(path: str, digest: str, size: int) -> dict:
    return {"name": path.rsplit("/", 1)[-1].lower(), "path": path,
            "hash": "sha256:" + digest, "bytes": size}


def _put(zf: zipfile.ZipFile, path: str, data: bytes) -> dict:
    zf.writestr(_info(path), data)
    return _resource(path, sha256_hex(data), len(data))


def _put_stream(zf: zipfile.ZipFile, path: str, src: IO[bytes]) -> dict:
    h, size = hashlib.sha256(), 0
    with zf.open(_info(path), "w", force_zip64=True) as dst:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return _resource(path, h.hexdigest(), size)


def surt(url: str) -> str:
    """A SURT key as CDX indexes sort by (host reversed, ``www.`` dropped, lower case).

    >>> surt("http://www.Example.com:8080/a/B?x=1")
    'com,example:8080)/a/b?x=1'
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    key = ",".join(reversed(host.split(".")))
    if parts.port is not None and parts.port not in (80, 443):
        key += f":{parts.port}"
    return f"{key}){(parts.path or '/').lower()}" + (f"?{parts.query.lower()}"
                                                     if parts.query else "")


def _index(warc: IO[bytes], facts: dict[int, dict], record: dict) -> tuple[list[str], str]:
    """CDXJ lines of the WARC's responses and revisits, and pages.jsonl."""
    lines, pages = [], [{"format": "json-pages-1.0", "id": "pages",
                         "title": f"takedown {record['id']}"}]
    it = ArchiveIterator(warc)
    for rec in it:
        if rec.rec_type not in ("response", "revisit"):
            continue
        h, uri = rec.rec_headers, rec.rec_headers.get_header("WARC-Target-URI")
        ts = h.get_header("WARC-Date")
        status = rec.http_headers.get_statuscode() if rec.http_headers else ""
        mime = (rec.http_headers.get_header("Content-Type") or "").split(";")[0] \
            if rec.http_headers else ""
        rec.raw_stream.read()
        it.read_to_end()
        fields = {"url": uri, "mime": mime or "unk", "status": status,
                  "digest": h.get_header("WARC-Payload-Digest"),
                  "length": str(it.get_record_length()), "offset": str(it.get_record_offset()),
                  "filename": WARC_PATH.rsplit("/", 1)[-1]}
        if rec.rec_type == "revisit":
            fields["mime"] = "warc/revisit"
        stamp = ts.replace("-", "").replace(":", "").replace("T", "")[:14]
        lines.append(f"{surt(uri)} {stamp} {json.dumps(fields)}\n")
        cid = int(h.get_header("WARC-Takedown-Capture") or 0)
        if not str(status).startswith("3") and cid in facts:
            pages.append({"id": f"capture-{cid}", "url": uri, "ts": ts,
                          "title": f"{', '.join(facts[cid]['roles'])}: capture {cid}"})
    return lines, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages)


# -- verifying ------------------------------------------------------------------------------


def verify_package(path: Path) -> Verification:
    """Every check of the package at *path* (module docstring); PackageUnreadable when it
    is no regular file, no zip or has no readable datapackage.json.  Whatever the package
    holds, it is read member by member in bounded memory and nothing is extracted."""
    with _open_regular(path) as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except UNREADABLE as exc:
            raise PackageUnreadable(f"{path}: not a WACZ package ({exc})") from exc
        with zf:
            result = Verification()
            package = _datapackage_of(zf, path)
            unsafe = _check_names(zf, package, result)
            _check_digest(zf, result)
            sizes = _check_resources(zf, package, unsafe, result)
            payloads: dict[int, str] = {}
            if WARC_PATH in zf.namelist() and _refused(zf.getinfo(WARC_PATH)) is None:
                payloads = _check_warc(zf, result)
            if RECORD_PATH in sizes:
                _check_record(zf, payloads, result)
            else:
                result.problems.append(f"{RECORD_PATH} is missing")
    return result


def _open_regular(path: Path) -> BinaryIO:
    """*path* opened for reading if it is a regular file (`open_regular`): a pipe would
    block for ever and a device like /dev/zero never ends."""
    try:
        return open_regular(path)
    except (UnreadableInput, IsADirectoryError) as exc:
        raise PackageUnreadable(f"{path} is not a regular file (a pipe, a device or a "
                                "folder): not a WACZ package") from exc
    except OSError as exc:
        raise PackageUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc


def _datapackage_of(zf: zipfile.ZipFile, path: Path) -> dict:
    try:
        package = _load_json(zf, "datapackage.json")
    except ValueError as exc:
        raise PackageUnreadable(f"{path}: no readable datapackage.json ({exc})") from exc
    if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
        raise PackageUnreadable(f"{path}: datapackage.json lists no resources")
    return package


def _read(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{name} is {info.file_size} bytes, past {limit}")
    with zf.open(info) as fh:
        return fh.read(limit + 1)


def _load_json(zf: zipfile.ZipFile, name: str) -> Any:
    """*name* parsed; ValueError saying why it cannot be (missing, past `MAX_JSON`, a
    damaged member, not JSON, nested deeper than the parser goes)."""
    try:
        return json.loads(_read(zf, name, MAX_JSON))
    except KeyError:
        raise ValueError(f"no {name} in the zip") from None
    except RecursionError:
        raise ValueError("JSON nested deeper than a package's ever is") from None
    except UNREADABLE as exc:
        raise ValueError(str(exc)) from exc


def _shown(value: Any) -> str:
    """A value read from the package, in a mismatch line: short and printable, whatever a
    forger put there (megabytes, control characters, nesting)."""
    return _SHOWN.repr(value)


def _is_int(value: Any) -> bool:
    return type(value) is int   # not a bool: JSON's true is no size or id


def _is_sha256(value: Any, prefix: str = "") -> bool:
    return isinstance(value, str) and value.startswith(prefix) and \
        SHA256_HEX.fullmatch(value.removeprefix(prefix)) is not None


def _unsafe(name: str) -> str | None:
    """Why an entry's name could land outside the folder the zip is unpacked in, or hide
    what it is from whoever reads the mismatch lines; None for a plain relative path (the
    only kind this tool writes)."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "absolute"
    if "\\" in name:
        return "a backslash, Windows' folder separator"
    if ".." in name.split("/"):
        return "climbs out of its folder"
    if not name.isprintable() or len(name) > MAX_NAME:
        return "not a printable path"
    return None


def _check_names(zf: zipfile.ZipFile, package: dict, result: Verification) -> set[str]:
    """Each unsafe name (`_unsafe`) in the zip or in datapackage.json, and each name the
    zip holds twice (unzip tools and this check could read different ones), named once;
    returns the unsafe ones, checked no further."""
    listed = {res["path"] for res in package["resources"]
              if isinstance(res, dict) and isinstance(res.get("path"), str)}
    names = [info.filename for info in zf.infolist()]
    unsafe = set()
    for name in sorted(listed | set(names)):
        why = _unsafe(name)
        if why is not None:
            unsafe.add(name)
            result.problems.append(f"unsafe member path {_shown(name)} ({why})")
    for name, n in sorted(Counter(names).items()):
        if n > 1 and name not in unsafe:
            result.problems.append(f"{name} is in the zip {n} times")
    return unsafe


def _check_digest(zf: zipfile.ZipFile, result: Verification) -> None:
    try:
        doc = _load_json(zf, "datapackage-digest.json")
        actual = "sha256:" + sha256_hex(_read(zf, "datapackage.json", MAX_JSON))
    except (KeyError, *UNREADABLE) as exc:
        result.problems.append(f"datapackage-digest.json unreadable ({exc})")
        return
    digest = doc.get("hash") if isinstance(doc, dict) else None
    if not _is_sha256(digest, "sha256:"):
        result.problems.append(f"datapackage-digest.json is malformed: its hash is "
                               f"{_shown(digest)}, not sha256: and 64 hex digits")
    elif digest != actual:
        result.problems.append(f"datapackage.json has {actual}, its digest file says {digest}")
    else:
        result.checked.append(f"datapackage.json {actual}")


def _refused(info: zipfile.ZipInfo) -> str | None:
    """Why an entry is not read at all (a size no package reaches, or a zip bomb)."""
    if info.file_size > MAX_ENTRY or \
            info.file_size > MAX_RATIO * max(info.compress_size, 1 << 20):
        return f"declares {info.file_size} bytes from {info.compress_size}: refused unread"
    return None


def _entry_hash(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    """``sha256:…`` and size of entry *name*, read in chunks (never whole); KeyError when
    missing, ValueError when `_refused`."""
    info = zf.getinfo(name)
    why = _refused(info)
    if why is not None:
        raise ValueError(why)
    h, size = hashlib.sha256(), 0
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _check_resources(zf: zipfile.ZipFile, package: dict, unsafe: set[str],
                     result: Verification) -> set[str]:
    """Each resource's hash and size; returns the paths that match."""
    good, listed = set(), set()
    for res in package["resources"]:
        name = res.get("path") if isinstance(res, dict) else None
        if not isinstance(name, str):
            result.problems.append(f"a resource without a path: {_shown(res)}")
            continue
        listed.add(name)
        if name in unsafe:
            continue
        want, want_size = res.get("hash"), res.get("bytes")
        if not _is_sha256(want, "sha256:") or not _is_int(want_size):
            result.problems.append(f"{name}: datapackage.json is malformed: hash "
                                   f"{_shown(want)} and bytes {_shown(want_size)}, not "
                                   "sha256: and 64 hex digits, and a whole number")
            continue
        try:
            digest, size = _entry_hash(zf, name)
        except KeyError:
            result.problems.append(f"{name} is listed but missing")
            continue
        except UNREADABLE as exc:
            result.problems.append(f"{name} unreadable ({exc})")
            continue
        if digest != want or size != want_size:
            result.problems.append(f"{name}: {digest}, {size} bytes; datapackage.json says "
                                   f"{want}, {want_size} bytes")
        else:
            good.add(name)
            result.checked.append(f"{name} {digest} {size} bytes")
    for name in sorted(set(zf.namelist()) - listed - unsafe - set(PACKAGE_FILES)):
        result.problems.append(f"{name} is in the zip but not in datapackage.json")
    return good


class _HeaderLines(DecompressingBufferedReader):
    """warcio's reader with each record's header lines (read line by line, unlike its
    payload) bounded to `MAX_HEADERS` bytes in all: a gzip member of a megabyte can hold
    a header line of a gigabyte, which warcio would gather whole."""

    taken = 0

    def readline(self, length: int | None = None) -> bytes:
        left = MAX_HEADERS - self.taken
        limit = left if length is None else min(length, left)
        pieces: list[bytes] = []
        got = 0
        # a piece a buffer long at most: warcio's own loop over buffers, given a length,
        # can end a line early
        while got < limit and not (pieces and pieces[-1].endswith(b"\n")):
            piece = super().readline(min(limit - got, self.block_size))
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        line = b"".join(pieces)
        self.taken += got
        if self.taken >= MAX_HEADERS and not line.endswith(b"\n"):
            raise ValueError(f"a record's header lines run past {MAX_HEADERS} bytes")
        return line


class _Archive(ArchiveIterator):
    """`ArchiveIterator` over `_HeaderLines`, whose count starts again at each record."""

    def __init__(self, fh: IO[bytes], **kwargs: Any) -> None:
        super().__init__(fh, **kwargs)
        self.reader = _HeaderLines(self.fh)

    def read_to_end(self, record: Any = None) -> None:
        self.reader.taken = 0
        super().read_to_end(record)


def _records(fh: IO[bytes]) -> Iterator[tuple[Any, str, str]]:
    """Each WARC record with the SHA-256 and sha1 digest of its payload (read in chunks)."""
    for rec in _Archive(fh, check_digests=True):
        sha, sha1 = hashlib.sha256(), hashlib.sha1()
        while chunk := rec.raw_stream.read(CHUNK):
            sha.update(chunk)
            sha1.update(chunk)
        yield rec, sha.hexdigest(), sha1.hexdigest()


def _check_warc(zf: zipfile.ZipFile, result: Verification) -> dict[int, str]:
    """Every record's block and payload digests; capture id → SHA-256 of its payload."""
    by_capture: dict[int, str] = {}
    by_digest: dict[str, str] = {}
    n = 0
    try:
        with zf.open(WARC_PATH) as fh:
            for rec, sha, _sha1 in _records(fh):
                n += 1
                _check_record_digests(rec, sha, result, by_capture, by_digest)
    except Exception as exc:   # any reader error (gzip, zlib, parse): a damaged WARC
        # the reader quotes what it could not parse: shown escaped and short
        result.problems.append(f"{WARC_PATH} unreadable after record {n} "
                               f"({type(exc).__name__}: {str(exc)[:60]!r})")
    result.checked.append(f"{WARC_PATH}: {n} records, block and payload digests")
    return by_capture


def _check_record_digests(rec: Any, sha: str, result: Verification,
                          by_capture: dict[int, str], by_digest: dict[str, str]) -> None:
    h = rec.rec_headers
    where = f"{WARC_PATH} {rec.rec_type} {h.get_header('WARC-Target-URI')}"
    for problem in rec.digest_checker.problems:
        result.problems.append(f"{where}: {problem}")
    cid = int(h.get_header("WARC-Takedown-Capture") or 0)
    digest = h.get_header("WARC-Payload-Digest")
    stored = h.get_header("WARC-Takedown-Sha256")
    if rec.rec_type == "response" and not (rec.http_headers and
                                           rec.http_headers.get_header("Location")):
        by_digest[digest] = sha
        by_capture[cid] = sha
        if stored is not None and stored != sha:
            result.problems.append(f"{where}: payload SHA-256 {sha}, header says {stored}")
    elif rec.rec_type == "revisit" and digest in by_digest:
        by_capture[cid] = by_digest[digest]


def _check_record(zf: zipfile.ZipFile, payloads: dict[int, str], result: Verification) -> None:
    try:
        doc = _load_json(zf, RECORD_PATH)
    except ValueError as exc:
        result.problems.append(f"{RECORD_PATH} unreadable ({exc})")
        return
    captures = doc.get("captures") if isinstance(doc, dict) else None
    if not isinstance(captures, list):
        result.problems.append(f"{RECORD_PATH} is malformed: its captures are "
                               f"{_shown(captures)}, not a list")
        return
    for i, fact in enumerate(captures, 1):
        why = _malformed(fact)
        if why is not None:
            result.problems.append(f"{RECORD_PATH} is malformed: capture {i} of "
                                   f"{len(captures)}: {why}")
        else:
            _check_capture(zf, fact, payloads, result)


def _malformed(fact: Any) -> str | None:
    """What in one capture of takedown.json is not of the type this tool writes (None when
    all is), so that no forged value reaches a check or a line unvetted."""
    if not isinstance(fact, dict):
        return f"{_shown(fact)} is not an object"
    if not _is_int(fact.get("capture_id")):
        return f"its capture_id {_shown(fact.get('capture_id'))} is not a whole number"
    if fact.get("status") is not None and not _is_int(fact["status"]):
        return f"its status {_shown(fact['status'])} is not a whole number"
    for key in ("body_sha256", *(key for _path, key in _files(0))):
        if fact.get(key) is not None and not _is_sha256(fact[key]):
            return f"its {key} {_shown(fact[key])} is not 64 hex digits"
    return None


def _check_capture(zf: zipfile.ZipFile, fact: dict, payloads: dict[int, str],
                   result: Verification) -> None:
    cid, body = fact["capture_id"], fact.get("body_sha256")
    if fact.get("status") is not None:
        got = payloads.get(cid)
        want = body or sha256_hex(b"")
        if got != want:
            result.problems.append(f"capture {cid}: body SHA-256 {want} in {RECORD_PATH}, "
                                   f"{got or 'no payload'} in the WARC")
        else:
            result.checked.append(f"capture {cid} body {want}")
    _check_files(zf, fact, result)


def _check_files(zf: zipfile.ZipFile, fact: dict, result: Verification) -> None:
    """A capture's text, and a browser capture's screenshot and raw body: present, and as
    takedown.json says (each read in chunks: `_entry_hash`)."""
    cid = fact["capture_id"]
    for path, key in _files(cid):
        want = fact.get(key)
        if want is None:
            continue
        try:
            got = _entry_hash(zf, path)[0].removeprefix("sha256:")
        except KeyError:
            result.problems.append(f"capture {cid}: {path} is missing")
            continue
        except UNREADABLE as exc:
            result.problems.append(f"capture {cid}: {path} is unreadable ({exc})")
            continue
        if got != want:
            result.problems.append(f"capture {cid}: {path} has SHA-256 {got}, {RECORD_PATH} "
                                   f"says {want}")
        else:
            result.checked.append(f"capture {cid} {key.split('_')[0]} {want}")
