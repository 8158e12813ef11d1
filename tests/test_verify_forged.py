"""``takedown verify`` on forged packages, each made from a genuine one (``takedown
evidence`` of the hostile store's takedown) with one thing changed and everything else
re-hashed to match, so that only the forgery can be what verify names: JSON of the wrong
shape or nested past the parser, a zip-bomb member, a WARC header line of 128 MiB in a
gzip member of 128 KiB, member names that climb out of the folder, and paths that are no
file (a pipe, ``/dev/zero``).  Each ends in exit 1 with a ``mismatch:`` line naming it or
exit 2 with one ``error:`` line, never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_store import build_hostile_store

from reports.evidence import verify_package

TEXT = "takedown/text-{}.txt"
BOMB = 256 << 20            # bytes of zeros, deflated to about 256 KiB
LINE = 128 << 20            # bytes of one WARC header line, gzipped to about 128 KiB
MAX_RSS = 200 << 20

# runs verify as its child, so that RUSAGE_CHILDREN is verify's peak alone; the address
# space cap keeps a verify that reads a device to its end from taking the machine down
RUN = """
import json, resource, subprocess, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
try:
    run = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=15)
    rc, out, err = run.returncode, run.stdout, run.stderr
except subprocess.TimeoutExpired:
    rc, out, err = "timeout", "", ""
print(json.dumps({"rc": rc, "out": out, "err": err,
                  "maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""


def verify(path: Path, cwd: Path) -> dict:
    """``takedown verify PATH``: exit code, stdout, stderr, peak RSS in bytes."""
    run = subprocess.run([sys.executable, "-c", RUN, sys.executable, "-m", "takedown",
                          "verify", str(path)], capture_output=True, text=True, timeout=60,
                         cwd=cwd)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout)
    assert "Traceback" not in got["out"] + got["err"], got["err"][-2000:]
    return got


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The members of a package written by ``takedown evidence``, which verifies clean."""
    tmp = tmp_path_factory.mktemp("forged")
    store, rows = build_hostile_store(f"sqlite:///{tmp / 'takedown.sqlite'}")
    store.close()
    out = tmp / "genuine.wacz"
    run = subprocess.run([sys.executable, "-m", "takedown", "--data", str(tmp), "evidence",
                          str(rows.takedowns["links"]), "--out", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert verify(out, tmp)["rc"] == 0
    with zipfile.ZipFile(out) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    cid = rows.captures["links"][0]
    assert TEXT.format(cid) in members
    return {"tmp": tmp, "members": members, "cid": cid}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def forge(genuine: dict, name: str, replace: dict[str, bytes] | None = None,
          listing: Callable[[list], None] | None = None, *, relist: bool = True) -> Path:
    """The genuine package with *replace*'s members, every resource re-hashed, then
    *listing* applied to datapackage.json's resources and its digest remade (unless
    *relist* is false: datapackage.json is then *replace*'s, as it is)."""
    members = {**genuine["members"], **(replace or {})}
    if relist:
        package = json.loads(members["datapackage.json"])
        for res in package["resources"]:
            if res["path"] in members:
                res["hash"], res["bytes"] = _sha(members[res["path"]]), len(members[res["path"]])
        if listing is not None:
            listing(package["resources"])
        members["datapackage.json"] = json.dumps(package).encode()
    if "datapackage-digest.json" not in (replace or {}):
        members["datapackage-digest.json"] = json.dumps(
            {"path": "datapackage.json", "hash": _sha(members["datapackage.json"])}).encode()
    path = genuine["tmp"] / f"{name}.wacz"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def _record(genuine: dict, change: Callable[[dict], object]) -> bytes:
    doc = json.loads(genuine["members"]["takedown/takedown.json"])
    change(doc)
    return json.dumps(doc).encode()


def _set_capture(key: str, value: object) -> Callable[[dict], object]:
    return lambda doc: doc["captures"][0].__setitem__(key, value)


def _set_resource(key: str, value: object) -> Callable[[list], object]:
    return lambda resources: resources[0].__setitem__(key, value)


@pytest.mark.parametrize("captures", ["abc", {"capture_id": 1}, [1, "x", None]],
                         ids=["string", "object", "items-not-objects"])
def test_captures_of_the_wrong_shape_are_a_mismatch(genuine: dict, captures: object) -> None:
    record = json.dumps({"format": "takedown-evidence-1", "captures": captures}).encode()
    path = forge(genuine, "captures", {"takedown/takedown.json": record})
    got = verify(path, genuine["tmp"])
    assert got["rc"] == 1, got
    assert "mismatch: takedown/takedown.json is malformed" in got["out"]


@pytest.mark.parametrize(("where", "change", "named"), [
    ("record", _set_capture("capture_id", [1]), "capture_id [1] is not a whole number"),
    ("record", _set_capture("capture_id", True), "capture_id True is not a whole number"),
    ("record", _set_capture("status", "200"), "status '200' is not a whole number"),
    ("record", _set_capture("body_sha256", {"a": 1}), "body_sha256 {'a': 1} is not 64 hex"),
    ("record", _set_capture("text_sha256", "\x1b[31m" + "0" * 100_000),
     "text_sha256 '\\x1b[31m0"),
    ("listing", _set_resource("hash", 5), "hash 5 and bytes"),
    ("listing", _set_resource("bytes", "12"), "bytes '12'"),
    ("listing", _set_resource("hash", ["sha256:" + "0" * 64]), "datapackage.json is malformed"),
    ("digest", ["sha256:" + "0" * 64], "datapackage-digest.json is malformed"),
    ("digest", {"hash": {"x": [[["\x1b]0;title\x07"]]]}}, "datapackage-digest.json is malformed"),
], ids=["capture-id-list", "capture-id-bool", "status-string", "body-hash-object",
        "text-hash-escape", "resource-hash-number", "resource-bytes-string",
        "resource-hash-list", "digest-list", "digest-hash-nested"])
def test_fields_of_the_wrong_type_are_named(genuine: dict, where: str, change: object,
                                            named: str) -> None:
    if where == "record":
        path = forge(genuine, where, {"takedown/takedown.json": _record(genuine, change)})
    elif where == "listing":
        path = forge(genuine, where, listing=change)
    else:
        path = forge(genuine, where, {"datapackage-digest.json": json.dumps(change).encode()})
    problems = verify_package(path).problems
    assert any(named in line for line in problems), problems
    assert all(line.isprintable() and len(line) < 400 for line in problems), problems


@pytest.mark.parametrize(("member", "rc", "said"), [
    ("datapackage.json", 2, "error: "),
    ("datapackage-digest.json", 1, "mismatch: datapackage-digest.json unreadable"),
    ("takedown/takedown.json", 1, "mismatch: takedown/takedown.json unreadable"),
])
def test_json_nested_past_the_parser(genuine: dict, member: str, rc: int, said: str) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    path = forge(genuine, "nested", {member: nested}, relist=member != "datapackage.json")
    got = verify(path, genuine["tmp"])
    assert got["rc"] == rc, got
    assert said in (got["err"] if rc == 2 else got["out"]), got
    if rc == 2:
        assert "no readable datapackage.json" in got["err"]


def test_zip_bomb_member_is_named_in_bounded_memory(genuine: dict) -> None:
    text = TEXT.format(genuine["cid"])
    bomb = forge(genuine, "bomb")
    with zipfile.ZipFile(bomb) as src:
        kept = [(info, src.read(info)) for info in src.infolist() if info.filename != text]
    deflated = zipfile.ZipInfo(text)
    deflated.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(bomb, "w") as zf:
        for info, data in kept:
            zf.writestr(info, data)
        with zf.open(deflated, "w") as fh:
            for _ in range(BOMB >> 20):
                fh.write(bytes(1 << 20))
    assert bomb.stat().st_size < 4 << 20
    got = verify(bomb, genuine["tmp"])
    assert got["rc"] == 1, got
    assert f"mismatch: capture {genuine['cid']}: {text}" in got["out"], got["out"]
    assert got["maxrss"] < MAX_RSS, f"verify peaked at {got['maxrss'] >> 20} MiB"


def test_a_huge_warc_header_line_is_named_in_bounded_memory(genuine: dict) -> None:
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)    # one more gzip member of the WARC
    member = [deflate.compress(b"WARC/1.1\r\nWARC-Type: resource\r\nX-Huge: ")]
    member += [deflate.compress(b"a" * (1 << 20)) for _ in range(LINE >> 20)]
    member += [deflate.compress(b"\r\nContent-Length: 0\r\n\r\n\r\n\r\n"), deflate.flush()]
    warc = genuine["members"]["archive/data.warc.gz"] + b"".join(member)
    path = forge(genuine, "header-line", {"archive/data.warc.gz": warc})
    got = verify(path, genuine["tmp"])
    assert got["rc"] == 1, got
    assert "mismatch: archive/data.warc.gz unreadable after record" in got["out"], got["out"]
    assert "header lines run past" in got["out"], got["out"]
    assert got["maxrss"] < MAX_RSS, f"verify peaked at {got['maxrss'] >> 20} MiB"


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "takedown\\..\\..\\evil",
                                  "C:evil", "takedown/../../evil"])
def test_member_names_outside_the_folder_are_named(genuine: dict, name: str) -> None:
    data = b"evil"
    path = forge(genuine, "unsafe", {name: data}, lambda resources: resources.append(
        {"path": name, "hash": _sha(data), "bytes": len(data)}))
    with zipfile.ZipFile(path) as zf:
        assert name in zf.namelist()
    got = verify(path, genuine["tmp"])
    assert got["rc"] == 1, got
    assert f"mismatch: unsafe member path {name!r}" in got["out"], got["out"]


def test_a_name_twice_in_the_zip_is_named(genuine: dict) -> None:
    path = forge(genuine, "twice")
    text = TEXT.format(genuine["cid"])
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as zf:
        warnings.simplefilter("ignore")   # zipfile's "Duplicate name"
        zf.writestr(text, b"other text")
    assert f"{text} is in the zip 2 times" in verify_package(path).problems


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "link-to-dev-zero"])
def test_what_is_no_regular_file_is_refused_unread(genuine: dict, kind: str) -> None:
    path = genuine["tmp"] / f"{kind}.wacz"
    if kind == "fifo":
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    else:
        path.unlink(missing_ok=True)
        path.symlink_to("/dev/zero")
    got = verify(path, genuine["tmp"])
    assert got["rc"] == 2, got
    assert got["err"].startswith("error: ") and "is not a regular file" in got["err"], got
    assert got["out"] == ""
