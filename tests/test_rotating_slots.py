"""A small place of a page that is redrawn whole (a one-line news ticker, an advert slot,
a box of random quotes) rotates; it is never an ``edited`` takedown, while a paragraph cut
from an article beside it still is.

Real rounds: a loopback site crawled once a day, ``takedown detect`` after each round,
``takedown export`` at the end.  The ticker keeps a headline for two rounds before it
changes, which is what once made its first change read as a scrubbed paragraph.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sitesim import crawl_days, page

DAY = "2024-06-{:02d}T08:00:00Z"
PARAS = ["The regional water authority said the reservoir project would go ahead after "
         "years of delay, citing improved funding and support from local farmers.",
         "Engineers expect construction to take four years; the authority promised "
         "quarterly public updates on costs and environmental reviews.",
         "Residents of the affected villages will be offered new housing nearer the town, "
         "a plan that critics say was drawn up without consulting them."]
HEADLINES = ["Markets rally as the central bank holds interest rates steady",
             "Storm warning issued for the northern coastal districts tonight",
             "Local team wins the championship after a dramatic penalty shootout"]
QUOTES = [["Patience is bitter, but its fruit is sweet and worth the wait.",
           "The journey of a thousand miles begins with a single step."],
          ["Knowledge speaks, but wisdom listens to what is left unsaid.",
           "A smooth sea never made a skilled sailor of anyone at all."]]


def _article(paras: list[str], day: int) -> str:
    ticker = HEADLINES[(day // 2) % 3]             # two rounds each, then the next
    quotes = "".join(f"<p>{q}</p>" for q in QUOTES[day % 2])
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (f"<article><h1>Reservoir</h1>{body}</article>"
            f"<div class='ticker'><p>Breaking: {ticker}</p></div>"
            f"<aside class='quotes'>{quotes}</aside>")


def site(day: int) -> dict:
    cut = PARAS[:2] if day >= 4 else PARAS          # the third paragraph scrubbed on day 5
    return {"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
            "/steady.html": page(_article(PARAS, day)),
            "/scrubbed.html": page(_article(cut, day))}


def test_a_redrawn_ticker_is_noise_and_a_cut_paragraph_an_edit(tmp_path: Path) -> None:
    def each(data: Path, run: subprocess.CompletedProcess) -> None:
        assert run.returncode == 0, run.stderr[-3000:]
        det = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "detect"],
                             capture_output=True, text=True)
        assert det.returncode == 0, det.stderr[-3000:]

    targets = ('[[target]]\nname = "steady"\nurl = "{base}/steady.html"\n'
               '[[target]]\nname = "scrubbed"\nurl = "{base}/scrubbed.html"\n')
    data, base, _runs = crawl_days(tmp_path, site, 7, targets,
                                   "[crawl]\ntimeout = 20\ndelay = 0\n", DAY, each)
    out = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "export"],
                         capture_output=True, text=True, check=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["url"].removeprefix(base), r["kind"]) for r in records] == [
        ("/scrubbed.html", "edited")]
    assert "Residents of the affected villages" in json.dumps(records[0], ensure_ascii=False)
