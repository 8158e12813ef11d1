"""Every command line the README shows, parsed and run.

The README's shell blocks (``sh``, its unlabelled example session, the systemd unit's
``ExecStart=``) and its command table are read here. Each ``takedown …`` line becomes one or
two forms: a line as written, or a synopsis with every ``[optional]`` part left out
(minimal) or put in with the last of its ``a|b`` choices (maximal). Placeholders
(``WATCHLIST``, ``DIR``, ``URL``, ``FILE``, ``/srv/…`` paths, ``$VAR``) become files of a small
loopback site's store; a placeholder nobody knows fails the test, so a new README command
needs a meaning here.

- ``test_parses``: every form, and the prose's ``takedown …`` spans, through the real command
  line with each subcommand's body replaced by a recorder (so options that do not exist, or
  values they refuse, fail); again with ``--data``/``--db`` after the subcommand, which must
  change nothing (the README says every command takes them).
- ``test_runs``: every block, its commands in order, for real: ``crawl`` and ``demo`` as
  ``python -m takedown`` subprocesses, quick commands in process, ``serve``, ``schedule`` and
  ``worker`` as subprocesses that must come up (the viewer answers, the scheduler logs its
  jobs, the worker is still running) and then stop cleanly on SIGTERM. A ``--port`` is moved
  to a free port; a command that needs workers (``crawl --redis``) or ten simulated days
  (``demo``) is only parsed, and says why in ``only_parsed``. Blocks that need PostgreSQL or
  Redis skip, saying so, without them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner
from conftest import pg_schema
from sitesim import RouteSite, crawl, page, serve, watchlist

from takedown.cli import Context, cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL")
ENV_VARS = ("TAKEDOWN_DATA", "TAKEDOWN_DB", "TAKEDOWN_REDIS", "TAKEDOWN_REDIS_PREFIX",
            "TAKEDOWN_SERVE_TOKEN")
OTHER_PROGRAMS = {"make", "createdb", ".venv/bin/pytest"}  # not ours; `kill` stops ours
LONG_RUNNING = {"serve", "schedule", "worker"}
pytestmark = pytest.mark.xdist_group("readme")  # one worker builds the world, once


# -- reading the README ----------------------------------------------------------------------


@dataclass
class Command:
    """One ``takedown`` command line of the README, in one form."""

    where: str                      # README.md:LINE
    form: str                       # as written | minimal | maximal
    argv: list[str]                 # after the program
    env: dict[str, str] = field(default_factory=dict)  # exports before it, VAR=… in front
    stdout: str | None = None       # `> FILE` / `>> FILE` (with 2>&1: stderr too)
    background: bool = False        # `… &`
    output: str | None = None       # the output an example session shows after it

    @property
    def sub(self) -> str:
        it = iter(self.argv)
        for tok in it:
            if tok in ("--data", "--db"):
                next(it)
            elif not tok.startswith("-"):
                return tok
        raise AssertionError(f"{self.where}: no subcommand in {self.argv}")

    def __str__(self) -> str:
        return f"{self.where} ({self.form}): takedown {shlex.join(self.argv)}"


@dataclass
class Block:
    where: str
    steps: list[Command | str]      # commands, and "stop" for `kill -TERM $!`


def expand(synopsis: str, maximal: bool) -> list[str]:
    """A synopsis' words without its ``[optional]`` parts, or with all of them and the last
    choice of each ``a|b``; ``…`` and ``...`` (repeatable) dropped."""
    out: list[str] = []
    depth, skip_from = 0, None
    for tok in re.findall(r"\[|\]|[^\s\[\]]+", synopsis):
        if tok == "[":
            depth += 1
            skip_from = depth if skip_from is None and not maximal else skip_from
        elif tok == "]":
            skip_from = None if skip_from == depth else skip_from
            depth -= 1
        elif skip_from is None and tok not in ("…", "..."):
            out.append(tok.split("|")[-1 if maximal else 0])
    assert depth == 0, f"unbalanced brackets in {synopsis!r}"
    return out


def shell_steps(text: str, where: str, env: dict[str, str]) -> list[Command | str]:
    """The commands of one shell line (``export``s update *env*)."""
    steps: list[Command | str] = []
    comment = re.search(r"#\s*=\s*(takedown .*)$", text)  # "# = takedown …": the same, spelt out
    words = shlex.split(text, comments=True)
    if comment:
        words += ["&&", *shlex.split(comment[1])]
    segment: list[str] = []
    for word in [*words, "&&"]:
        if word not in ("&&", "&", ";"):
            segment.append(word)
            continue
        step = _segment(segment, where, env, background=word == "&")
        if step is not None:
            steps.append(step)
        segment = []
    return steps


def _segment(words: list[str], where: str, env: dict[str, str],
             background: bool) -> Command | str | None:
    if not words:
        return None
    if words[0] == "export":
        env.update(w.split("=", 1) for w in words[1:])
        return None
    own = dict(env)
    while "=" in words[0] and not words[0].startswith("-"):
        key, value = words.pop(0).split("=", 1)
        own[key] = value
    if words[0] == "nohup":
        words = words[1:]
    if words[:2] == ["kill", "-TERM"] and words[2:] == ["$!"]:
        return "stop"
    if words[0] in OTHER_PROGRAMS:
        return None
    assert Path(words[0]).name == "takedown", f"{where}: unknown program {words[0]!r}"
    argv, stdout = [], None
    it = iter(words[1:])
    for w in it:
        if w in (">", ">>"):
            stdout = next(it)
        elif w != "2>&1":
            argv.append(w)
    return Command(where, "as written", argv, own, stdout, background)


FORMS = (("minimal", False), ("maximal", True))


def readme_blocks() -> list[Block]:
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    lang: str | None = None
    env: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line, where = lines[i], f"README.md:{i + 1}"
        if line.startswith("```"):
            lang = line[3:].strip() if lang is None else None
            env = {}
            if lang is not None:
                blocks.append(Block(where, []))
        elif lang is None and line.startswith("| `takedown "):
            synopsis = re.match(r"\| `(takedown [^`]*)`", line)[1].replace("\\|", "|")
            blocks.append(Block(where, [Command(where, form, expand(synopsis, maximal)[1:])
                                        for form, maximal in FORMS]))
        elif lang in ("sh", "", "ini"):
            start = i
            while line.endswith("\\"):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            shell = _shell_line(line, lang)
            if shell is not None and "[" in shell:  # a synopsis inside a block
                blocks[-1].steps += [Command(f"README.md:{start + 1}", form,
                                             expand(shell, maximal)[1:])
                                     for form, maximal in FORMS]
            elif shell is not None:
                steps = shell_steps(shell, f"README.md:{start + 1}", env)
                if lang == "" and steps:          # an example session: output follows
                    steps[-1].output = lines[i + 1]
                blocks[-1].steps += steps
        i += 1
    return [b for b in blocks if b.steps]


def _shell_line(line: str, lang: str) -> str | None:
    """The shell line in *line*: any line of a ``sh`` block, a ``$ `` prompt's in an example
    session, the ``ExecStart=`` of a systemd unit."""
    prefix = {"sh": "", "": "$ ", "ini": "ExecStart="}[lang]
    if not line.strip() or not line.startswith(prefix):
        return None
    return line.removeprefix(prefix)


def inline_commands() -> list[Command]:
    """``takedown …`` spans of the prose that name more than a subcommand (to parse)."""
    out = []
    for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("| `takedown "):
            continue                              # the command table
        for span in re.findall(r"`(takedown [^`]*)`", line):
            if len(span.split()) > 2:
                out.append(Command(f"README.md:{n}", "in the text", span.split()[1:]))
    return out


BLOCKS = readme_blocks()
COMMANDS = [s for b in BLOCKS for s in b.steps if isinstance(s, Command)]


def test_the_readme_shows_every_command() -> None:
    """The parsing above finds what it should: every subcommand, both forms of each table
    row, the blocks' examples (a README rewrite that hides them fails here)."""
    assert {c.sub for c in COMMANDS} == set(cli.commands)
    assert sum(c.form == "minimal" for c in COMMANDS) >= len(cli.commands) + 1
    written = [c for c in COMMANDS if c.form == "as written"]
    assert len(written) >= 15 and any(c.output for c in written)
    assert any(c.background for c in written) and any(c.stdout for c in written)


# -- placeholders ----------------------------------------------------------------------------


@dataclass
class World:
    cwd: Path                        # where commands run; holds watchlist.toml, events.toml
    data: Path                       # the store (cwd/takedown-data, the default)
    tmp: Path
    url: str                         # a captured URL
    token: str = "readme-viewer-token"
    prefix: str = field(default_factory=lambda: f"readme-{uuid.uuid4().hex[:8]}")  # Redis
    redis: str = REDIS_URL or "redis://127.0.0.1:6379/0"
    db: str | None = None            # a PostgreSQL URL, per block that exports one
    early: dict[int, Spawned] = field(default_factory=dict)  # slow runs started at once
    takedown_id: int = 0             # the censored article's takedown


class Unfilled(Exception):
    pass


def fill(cmd: Command, w: World, port: int | None = None,
         parse_only: bool = False) -> tuple[list[str], dict[str, str]]:
    """*cmd*'s argv and environment with its placeholders made real (for *parse_only*,
    services' URLs that are never connected to)."""
    env = {k: _env_value(k, v, w, parse_only) for k, v in cmd.env.items()}
    out: list[str] = []
    prev, sub = "", None
    for tok in cmd.argv:
        tok = re.sub(r"\$(\w+)", lambda m: env[m[1]], tok)
        if sub is None and not tok.startswith("-") and prev not in ("--data", "--db"):
            sub = tok
            out.append(tok)
        else:
            out.append(_value(sub, prev, tok, w, port))
        prev = tok
    return out, env


def _env_value(key: str, value: str, w: World, parse_only: bool) -> str:
    if key == "TAKEDOWN_DB":
        return "postgresql+psycopg://nobody@127.0.0.1:1/never" if parse_only else w.db
    if key == "TAKEDOWN_REDIS":
        return w.redis
    if key == "TAKEDOWN_SERVE_TOKEN" and value == "…":
        return w.token
    raise Unfilled(f"{key}={value}")


def _value(sub: str | None, prev: str, tok: str, w: World, port: int | None) -> str:
    if prev == "--data":
        return str(w.data)                       # DIR, DATA, data, /srv/takedown/…
    if tok.startswith("DATA/"):
        return str(w.data / tok.removeprefix("DATA/"))
    if prev == "--port":
        return str(port) if port is not None else tok
    by_option = {
        ("--out", "FILE"): str(w.tmp / "takedowns.out"),
        ("--out", "DIR"): str(w.tmp / "report"),
        ("--events", "FILE"): str(ROOT / "examples/events/military-civil-fusion.toml"),
        ("--keywords", "LIST.txt"): str(ROOT / "examples/keywords/military-civil-fusion.txt"),
        ("--keywords", "LIST.csv"): str(w.cwd / "keywords.csv"),
        ("--phrases", "FILE"): str(w.cwd / "phrases.tsv"),
        ("--phrases", "F"): str(w.cwd / "phrases.tsv"),
        ("--target", "NAME"): "gov-news", ("--target", "T"): "gov-news",
        ("--target", "…"): "gov-news",
        ("--kind", "K"): "censored", ("--kind", "KIND"): "censored",
        ("--at", "ISO-8601"): "2021-03-03T00:00:00Z",
        ("--redis", "URL"): w.redis, ("--prefix", "P"): w.prefix,
        ("--jitter", "S"): "1", ("--misfire-grace", "S"): "60", ("--lease", "S"): "30",
        ("--days", "N"): "2", ("--title", "TEXT"): "A title", ("--token", "T"): w.token,
        ("--out", "FILE.warc.gz"): str(w.tmp / "export.warc.gz"),
        ("--out", "FILE.wacz"): str(w.tmp / "evidence.wacz"),
        ("--watchlist", "WATCHLIST"): "watchlist.toml",
        ("--since", "DAY"): "2021-03-01", ("--until", "DAY"): "2021-03-31",
    }
    if (prev, tok) in by_option:
        return by_option[prev, tok]
    if tok.startswith("examples/"):
        return str(ROOT / tok)
    if sub in ("crawl", "schedule") and not tok.startswith("-") and \
            (tok == "WATCHLIST" or tok.endswith("/watchlist.toml")):
        return "watchlist.toml"                  # in the working directory
    if sub == "history" and tok == "URL":
        return w.url
    if sub == "import-warc" and tok == "FILE…":
        return str(w.tmp / "world.warc.gz")      # the world's captures, exported
    if sub == "verify" and tok == "FILE.wacz":
        return str(w.tmp / "world.wacz")         # the censored article's package
    if sub == "evidence" and tok == "ID":
        return str(w.takedown_id)
    if re.fullmatch(r"[A-Z][A-Z0-9_.-]*", tok) or "…" in tok or tok.startswith("/srv"):
        raise Unfilled(f"{prev} {tok}")
    return tok


# -- the world: a loopback site and a store with a takedown -------------------------------


ARTICLE = ("<article><h1>Notice {n}</h1><time datetime='2021-02-2{n}T08:00:00Z'>2021-02-2{n}"
           "</time>" + "<p>The county office published its annual budget today.</p>" * 5
           + "</article>")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """`gov-news`, a listing and two articles on loopback, crawled on two days (the second
    article is censored, HTTP 451, on the second) and detected; files the README names."""
    tmp = tmp_path_factory.mktemp("readme")
    cwd = tmp / "work"
    cwd.mkdir()
    listing = page("<a href='/news/1.html'>one</a> <a href='/news/2.html'>two</a>")
    site = RouteSite({"/news/list.html": listing, "/news/1.html": page(ARTICLE.format(n=1)),
                      "/news/2.html": page(ARTICLE.format(n=2))})
    server = serve(site)
    base = server.base_url
    wl = watchlist(cwd / "watchlist.toml", f'[[target]]\nname = "gov-news"\n'
                   f'url = "{base}/news/list.html"\ndepth = 1\nallow = ["/news/"]\n')
    data = cwd / "takedown-data"
    w = World(cwd, data, tmp, f"{base}/news/2.html")
    # the demo (its own site and store) runs alongside everything else: it is the slowest
    w.early = {id(c): spawn(c, w) for c in COMMANDS if c.sub == "demo" and not only_parsed(c)}
    try:
        for day, routes in ((1, site.routes), (2, {**site.routes, "/news/2.html": page(
                "Unavailable For Legal Reasons", 451)})):
            site.swap(routes)
            run = crawl(wl, data, f"2021-03-0{day}T00:00:00Z", "--no-progress")
            assert run.returncode == 0, run.stderr
        invoke_ok(["--data", str(data), "detect"], {})
        export = invoke_ok(["--data", str(data), "export"], {}).output
        w.takedown_id = json.loads(export.splitlines()[0])["id"]
        invoke_ok(["--data", str(data), "export-warc", "--out", str(tmp / "world.warc.gz")], {})
        invoke_ok(["--data", str(data), "evidence", str(w.takedown_id), "--out",
                   str(tmp / "world.wacz")], {})
        # events.toml as in examples/, with the keyword list it names beside it
        shutil.copy(ROOT / "examples/events/military-civil-fusion.toml", cwd / "events.toml")
        shutil.copytree(ROOT / "examples/keywords", tmp / "keywords")
        (cwd / "keywords.csv").write_text("keyword,note\nbudget,test\n", encoding="utf-8")
        (cwd / "phrases.tsv").write_text(
            "state\tkind\tplatform\tlang\tmatch\tpattern\tsource\nnotice\tcensored\ttest\ten\t"
            "substring\tthis page was withdrawn by order of the county office\ttest\n",
            encoding="utf-8")
        yield w
    finally:
        server.stop()
        for early in w.early.values():
            early.proc.kill()
            early.proc.wait()


def invoke_ok(argv: list[str], env: dict[str, str]) -> click.testing.Result:
    result = CliRunner().invoke(cli, argv, env=_clean_env(env), catch_exceptions=False)
    assert result.exit_code == 0, f"takedown {shlex.join(argv)}:\n{result.output}"
    return result


def _clean_env(env: dict[str, str]) -> dict[str, str | None]:
    """The block's variables, and none of the user's TAKEDOWN_*."""
    return {**dict.fromkeys(ENV_VARS), **env}


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", COMMANDS + inline_commands(), ids=str)
def test_parses(cmd: Command, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """As written, then with its --data/--db moved after the subcommand (or, lacking them,
    with a --data there): the same parameters, the same store."""
    monkeypatch.chdir(world.cwd)
    argv, env = fill(cmd, world, parse_only=True)
    first = parse(monkeypatch, argv, env)
    assert first["obj"].data == (str(world.data) if "--data" in cmd.argv else "takedown-data")
    lead = 0
    while argv[lead] in ("--data", "--db"):
        lead += 2
    after = argv[:lead] or ["--data", str(world.tmp / "after")]
    second = parse(monkeypatch, argv[lead:] + after, env)
    expected = {**vars(first.pop("obj")), **({} if lead else {"data": after[1]})}
    assert vars(second.pop("obj")) == expected and second == first


def parse(monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str]) -> dict:
    """*argv* parsed by the command line, every subcommand's body replaced by a recorder of
    its parameters and of the global options in effect (``obj``)."""
    seen: dict = {}

    def record(**params: object) -> None:
        seen.update(params, obj=click.get_current_context().find_object(Context))

    for command in cli.commands.values():
        monkeypatch.setattr(command, "callback", record)
    invoke_ok(argv, env)
    assert "obj" in seen, argv
    return seen


# -- running ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    cmd: Command
    proc: subprocess.Popen
    log: Path
    port: int | None


def _subprocess_env(env: dict[str, str], w: World) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    return {**base, "TAKEDOWN_LOOPBACK_ONLY": "1", "TAKEDOWN_REDIS_PREFIX": w.prefix, **env}


def start(cmd: Command, w: World) -> Running:
    port = free_port() if cmd.sub == "serve" else None
    argv, env = fill(cmd, w, port)
    if cmd.sub == "serve" and "--port" not in argv:
        argv += ["--port", str(port)]           # the default 8080 may be taken here
    log = w.cwd / cmd.stdout if cmd.stdout else w.tmp / f"run-{uuid.uuid4().hex[:8]}.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "takedown", *argv], cwd=w.cwd,
                                env=_subprocess_env(env, w), stdout=fh, stderr=fh)
    running = Running(cmd, proc, log, port)
    _wait_ready(running, argv, env, w)
    return running


def _wait_ready(r: Running, argv: list[str], env: dict[str, str], w: World) -> None:
    marker = {"serve": "serving http://", "schedule": "next run", "worker": None}[r.cmd.sub]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert r.proc.poll() is None, f"{r.cmd} exited {r.proc.returncode}:\n{_text(r)}"
        if marker is None and catches(r.proc.pid, signal.SIGTERM):
            time.sleep(0.3)                      # an idle worker says nothing: polling Redis
            break
        if marker and marker in _text(r):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"{r.cmd} did not start:\n{_text(r)}")
    if r.cmd.sub == "schedule":
        time.sleep(0.5)  # a job's first crawl, started at once, is past Python's start-up
    if r.cmd.sub == "serve":
        token = argv[argv.index("--token") + 1] if "--token" in argv else \
            env.get("TAKEDOWN_SERVE_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = httpx.get(f"http://127.0.0.1:{r.port}/", headers=headers, timeout=10)
        assert reply.status_code == 200 and "gov-news" in reply.text, (r.cmd, reply.status_code)


def catches(pid: int, signum: int) -> bool:
    """Whether process *pid* has a handler of *signum* (Linux's /proc)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    mask = int(re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE)[1], 16)
    return bool(mask >> (signum - 1) & 1)


def stop(r: Running) -> None:
    r.proc.send_signal(signal.SIGTERM)
    try:
        code = r.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        raise AssertionError(f"{r.cmd} did not stop on SIGTERM:\n{_text(r)}") from None
    # uvicorn shuts the viewer down, then re-raises the signal it caught, as is customary
    clean = (0, -signal.SIGTERM) if r.cmd.sub == "serve" else (0,)
    assert code in clean and "Traceback" not in _text(r), \
        f"{r.cmd} exited {code} on SIGTERM:\n{_text(r)}"
    if r.cmd.sub == "schedule":
        assert "scheduler stopped" in _text(r)


def _text(r: Running) -> str:
    return r.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Spawned:
    proc: subprocess.Popen
    stdout: Path
    stderr: Path

    def wait(self) -> tuple[str, str, int]:
        try:
            code = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.stdout.read_text(encoding="utf-8"), \
            self.stderr.read_text(encoding="utf-8"), code


def spawn(cmd: Command, w: World) -> Spawned:
    """*cmd* as a ``python -m takedown`` subprocess (the demo and the example session in a
    directory of their own)."""
    argv, env = fill(cmd, w)
    cwd = w.cwd
    if cmd.sub == "demo" or cmd.output is not None:
        cwd = _fresh_dir(w)
    if cmd.output is not None:                   # the session's watchlist, key misspelt
        (cwd / "watchlist.toml").write_text(MISSPELT, encoding="utf-8")
    out, err = cwd / f"{id(cmd)}.stdout", cwd / f"{id(cmd)}.stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "takedown", *argv], cwd=cwd,
                                env=_subprocess_env(env, w), stdout=fo, stderr=fe)
    return Spawned(proc, out, err)


def run_once(cmd: Command, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    argv, env = fill(cmd, w)
    if cmd.sub in ("crawl", "demo") or cmd.output is not None:
        stdout, stderr, code = (w.early.pop(id(cmd), None) or spawn(cmd, w)).wait()
        out = stdout + stderr
    else:
        monkeypatch.chdir(w.cwd)
        result = CliRunner().invoke(cli, argv, env=_clean_env(env), catch_exceptions=False)
        stdout, out, code = result.stdout, result.output, result.exit_code
    if cmd.output is not None:                   # an example session: its output, as shown
        shown = re.escape(cmd.output).replace("…", ".*")
        assert code == 2 and re.fullmatch(shown, out.strip()), (str(cmd), out)
        return
    assert code == 0, f"{cmd}: exit {code}\n{out}"
    if cmd.stdout:
        (w.cwd / cmd.stdout).write_text(stdout, encoding="utf-8")


# What the README's example session crawls: line 4 misspells `depth` in target 'a'.
MISSPELT = '[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\ndepht = 1\n'


def _fresh_dir(w: World) -> Path:
    path = w.tmp / f"run-{uuid.uuid4().hex[:6]}"
    path.mkdir()
    return path


def only_parsed(cmd: Command) -> str | None:
    """Why *cmd* is only parsed, not run (None: it runs)."""
    if cmd.sub == "crawl" and "--redis" in cmd.argv:
        return "a round on workers: the distributed block runs one"
    if cmd.sub == "demo" and "--days" not in cmd.argv:
        return "ten simulated days (tests/test_scenario_demo.py runs them)"
    return None


# A README command that fails for a reason outside the command line, until that is fixed.
KNOWN_FAILURES: dict[str, str] = {}


def _params(blocks: list[Block]) -> list[object]:
    out = []
    for b in blocks:
        subs = {s.sub for s in b.steps if isinstance(s, Command)}
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[sub])
                 for sub in subs if sub in KNOWN_FAILURES]
        out.append(pytest.param(b, marks=marks, id=f"{b.where} {' '.join(sorted(subs))}"))
    return out


@pytest.mark.parametrize("block", _params(BLOCKS))
def test_runs(block: Block, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    exports = {k for s in block.steps if isinstance(s, Command) for k in s.env}
    workers = any(isinstance(s, Command) and s.sub == "worker" for s in block.steps)
    if ("TAKEDOWN_REDIS" in exports or workers) and REDIS_URL is None:
        pytest.skip("TAKEDOWN_TEST_REDIS_URL is not set (CI sets it; see .ci/run)")
    with pg_schema("readme") if "TAKEDOWN_DB" in exports else nullcontext() as db:
        world.db = db
        running: list[Running] = []
        try:
            for step in block.steps:
                if step == "stop":
                    stop(running.pop())
                    continue
                if only_parsed(step) is not None:
                    continue
                if step.sub == "schedule" and "--list" in step.argv or \
                        step.sub not in LONG_RUNNING:
                    run_once(step, world, monkeypatch)
                    continue
                running.append(start(step, world))
                if step.sub == "schedule" and not step.background:
                    stop(running.pop())          # one scheduler per store, and no crawl
                                                 # by hand while it runs
            while running:
                stop(running.pop())
        finally:
            for r in running:
                r.proc.kill()
                r.proc.wait()
            _clear_redis(world.prefix)


def _clear_redis(prefix: str) -> None:
    if REDIS_URL is None:
        return
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(match=f"{prefix}:*"))
    if keys:
        server.delete(*keys)
    server.close()
