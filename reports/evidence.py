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
readable package" (`PackageUnreadable`).  Imports snapshots and warcio.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from snapshots import browse
from snapshots.blobs import sha256_hex
from snapshots.errors import TakedownError
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
CHUNK = 1 << 20
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
    is no zip or has no readable datapackage.json."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PackageUnreadable(f"{path}: not a WACZ package ({exc})") from exc
    with zf:
        result = Verification()
        package = _datapackage_of(zf, path)
        _check_digest(zf, result)
        sizes = _check_resources(zf, package, result)
        payloads = _check_warc(zf, result) if WARC_PATH in zf.namelist() else {}
        if RECORD_PATH in sizes:
            _check_record(zf, payloads, result)
        else:
            result.problems.append(f"{RECORD_PATH} is missing")
    return result


def _datapackage_of(zf: zipfile.ZipFile, path: Path) -> dict:
    try:
        package = json.loads(_read(zf, "datapackage.json"))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise PackageUnreadable(f"{path}: no readable datapackage.json ({exc})") from exc
    if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
        raise PackageUnreadable(f"{path}: datapackage.json lists no resources")
    return package


def _read(zf: zipfile.ZipFile, name: str, limit: int = 64 << 20) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{name} is {info.file_size} bytes, past {limit}")
    with zf.open(info) as fh:
        return fh.read(limit + 1)


def _check_digest(zf: zipfile.ZipFile, result: Verification) -> None:
    try:
        digest = json.loads(_read(zf, "datapackage-digest.json"))["hash"]
        actual = "sha256:" + sha256_hex(_read(zf, "datapackage.json"))
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        result.problems.append(f"datapackage-digest.json unreadable ({exc})")
        return
    if digest != actual:
        result.problems.append(f"datapackage.json has {actual}, its digest file says {digest}")
    else:
        result.checked.append(f"datapackage.json {actual}")


def _entry_hash(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    info = zf.getinfo(name)
    if info.file_size > MAX_ENTRY or \
            info.file_size > MAX_RATIO * max(info.compress_size, 1 << 20):
        raise ValueError(f"declares {info.file_size} bytes from {info.compress_size}: "
                         "refused unread")
    h, size = hashlib.sha256(), 0
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _check_resources(zf: zipfile.ZipFile, package: dict, result: Verification) -> set[str]:
    """Each resource's hash and size; returns the paths that match."""
    good, listed = set(), set()
    for res in package["resources"]:
        name = res.get("path") if isinstance(res, dict) else None
        if not isinstance(name, str):
            result.problems.append(f"a resource without a path: {res!r}")
            continue
        listed.add(name)
        try:
            digest, size = _entry_hash(zf, name)
        except KeyError:
            result.problems.append(f"{name} is listed but missing")
            continue
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            result.problems.append(f"{name} unreadable ({exc})")
            continue
        if digest != res.get("hash") or size != res.get("bytes"):
            result.problems.append(f"{name}: {digest}, {size} bytes; datapackage.json says "
                                   f"{res.get('hash')}, {res.get('bytes')} bytes")
        else:
            good.add(name)
            result.checked.append(f"{name} {digest} {size} bytes")
    for name in set(zf.namelist()) - listed - set(PACKAGE_FILES):
        result.problems.append(f"{name} is in the zip but not in datapackage.json")
    return good


def _records(fh: IO[bytes]) -> Iterator[tuple[Any, str, str]]:
    """Each WARC record with the SHA-256 and sha1 digest of its payload (read whole)."""
    for rec in ArchiveIterator(fh, check_digests=True):
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
        doc = json.loads(_read(zf, RECORD_PATH))
        captures = list(doc["captures"])
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        result.problems.append(f"{RECORD_PATH} unreadable ({exc})")
        return
    for fact in captures:
        _check_capture(zf, fact, payloads, result)


def _check_capture(zf: zipfile.ZipFile, fact: dict, payloads: dict[int, str],
                   result: Verification) -> None:
    cid, body = fact.get("capture_id"), fact.get("body_sha256")
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
    takedown.json says."""
    cid = fact.get("capture_id")
    for path, key in _files(cid) if isinstance(cid, int) else ():
        want = fact.get(key)
        if want is None:
            continue
        try:
            got = sha256_hex(_read(zf, path, MAX_ENTRY))
        except (KeyError, ValueError, zipfile.BadZipFile) as exc:
            result.problems.append(f"capture {cid}: {path} is unreadable ({exc})")
            continue
        if got != want:
            result.problems.append(f"capture {cid}: {path} has SHA-256 {got}, {RECORD_PATH} "
                                   f"says {want}")
        else:
            result.checked.append(f"capture {cid} {key.split('_')[0]} {want}")
