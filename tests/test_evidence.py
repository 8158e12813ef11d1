"""Evidence packages (``takedown evidence ID``) of real takedowns of a loopback site (the
site of test_warc_export: a censored page and a removed one): the `wacz` package validates
them, ``takedown verify`` passes them and names every tampering (a WARC byte, a hash in
datapackage.json, a dropped file, a non-zip), and the viewer links and serves them."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest
from test_warc_export import archive_bin, crawl_site, takedown


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("evidence")
    data, _base = crawl_site(tmp)
    records = [json.loads(line) for line in takedown(data, "export").stdout.splitlines()]
    by_kind = {r["kind"]: r for r in records}
    assert {"censored", "removed"} <= set(by_kind), records
    return {"data": data, "tmp": tmp, "by_kind": by_kind}


@pytest.fixture(scope="module", params=["censored", "removed"])
def package(request: pytest.FixtureRequest, store: dict) -> dict:
    rec = store["by_kind"][request.param]
    out = store["tmp"] / f"{request.param}.wacz"
    run = takedown(store["data"], "evidence", str(rec["id"]), "--out", str(out))
    assert f"takedown {rec['id']}" in run.stdout
    return {"path": out, "record": rec, **store}


def verify(data: Path, path: Path) -> subprocess.CompletedProcess:
    return takedown(data, "verify", str(path), check=False)


def test_package_holds_the_takedown_and_verifies(package: dict) -> None:
    with zipfile.ZipFile(package["path"]) as zf:
        names = set(zf.namelist())
        doc = json.loads(zf.read("takedown/takedown.json"))
        dp = json.loads(zf.read("datapackage.json"))
    assert {"archive/data.warc.gz", "indexes/index.cdx", "pages/pages.jsonl",
            "datapackage.json", "datapackage-digest.json"} <= names
    assert dp["wacz_version"] == "1.1.1" and dp["profile"] == "data-package"
    assert all(r["hash"].startswith("sha256:") for r in dp["resources"])
    rec = package["record"]
    assert doc["takedown"]["id"] == rec["id"] and doc["takedown"]["kind"] == rec["kind"]
    roles = {r for c in doc["captures"] for r in c["roles"]}
    assert {"before", "after"} <= roles
    after = next(c for c in doc["captures"] if "after" in c["roles"])
    assert after["verdict"]["kind"] == rec["kind"]
    if rec["kind"] == "censored":
        assert after["verdict"]["detail"]["phrase"] == "此内容因违规无法查看"
    run = verify(package["data"], package["path"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"capture {after['capture_id']} body" in run.stdout


def test_wacz_validates(package: dict) -> None:
    wacz = archive_bin() / "wacz"
    if not wacz.exists():
        pytest.skip(f"wacz is not installed at {wacz.parent} (make archive-tools, or set "
                    "TAKEDOWN_ARCHIVE_BIN)")
    run = subprocess.run([wacz, "validate", "-f", package["path"]], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and "Validation succeeded" in run.stdout, run.stdout


def _rewrite(src: Path, dst: Path, change) -> Path:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
    return dst


def _flip_warc_byte(name: str, data: bytes) -> bytes:
    if name != "archive/data.warc.gz":
        return data
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def _bad_hash(name: str, data: bytes) -> bytes:
    if name != "datapackage.json":
        return data
    return data.replace(b'"sha256:', b'"sha256:0', 1)


def _drop_pages(name: str, data: bytes) -> bytes | None:
    return None if name == "pages/pages.jsonl" else data


@pytest.mark.parametrize(("change", "named"), [
    (_flip_warc_byte, "archive/data.warc.gz"),
    (_bad_hash, "datapackage.json"),
    (_drop_pages, "pages/pages.jsonl is listed but missing"),
], ids=["warc-byte", "datapackage-hash", "dropped-file"])
def test_tampering_is_named(package: dict, change, named: str) -> None:  # type: ignore[no-untyped-def]
    bad = _rewrite(package["path"], package["tmp"] / "bad.wacz", change)
    run = verify(package["data"], bad)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "mismatch:" in run.stdout and named in run.stdout


def test_not_a_package_and_no_takedown(store: dict) -> None:
    junk = store["tmp"] / "junk.wacz"
    junk.write_bytes(b"not a zip at all")
    run = verify(store["data"], junk)
    assert run.returncode == 2 and "error:" in run.stderr and "not a WACZ" in run.stderr
    run = takedown(store["data"], "evidence", "99999", "--out", str(store["tmp"] / "x.wacz"),
                   check=False)
    assert run.returncode == 2 and "error: no takedown 99999" in run.stderr
    assert not (store["tmp"] / "x.wacz").exists()


def test_viewer_links_and_serves_the_package(store: dict) -> None:
    from serving import serving

    from reports.viewer import create_app
    from snapshots import open_store

    rec = store["by_kind"]["censored"]
    st = open_store(store["data"])
    try:
        with serving(create_app(st)) as base:
            page = urllib.request.urlopen(f"{base}/takedowns/{rec['id']}").read().decode()
            assert f'href="/takedowns/{rec["id"]}/evidence.wacz"' in page
            with urllib.request.urlopen(f"{base}/takedowns/{rec['id']}/evidence.wacz") as r:
                assert r.headers["Content-Type"] == "application/zip"
                assert "attachment" in r.headers["Content-Disposition"]
                body = r.read()
            for bad in ("99999", "abc", "9" * 30):
                try:
                    urllib.request.urlopen(f"{base}/takedowns/{bad}/evidence.wacz")
                    raise AssertionError("no error for " + bad)
                except urllib.error.HTTPError as exc:
                    assert exc.code == 404
    finally:
        st.close()
    got = store["tmp"] / "served.wacz"
    got.write_bytes(body)
    run = verify(store["data"], got)
    assert run.returncode == 0, run.stdout + run.stderr
