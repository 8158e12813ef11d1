"""The bundled demo site: a loopback server and a website whose content follows simulated days.

`server` holds the generic `SiteServer`/`Reply`; `site` holds `DemoSite` with its ground truth
and noise cases; the section modules (`forum`, `gov`, `wechat`, `weibo`, `news`) render pages.
Nothing here imports crawler/, diffing/ or reports/; the ground truth names its kinds from
``snapshots.vocab``.
"""

from __future__ import annotations

from takedown.demo.server import Reply, SiteServer
from takedown.demo.site import DemoSite
from takedown.demo.truth import Expected, Noise

__all__ = ["DemoSite", "Expected", "Noise", "Reply", "SiteServer"]
