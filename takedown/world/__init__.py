"""A randomised test world: loopback sites generated per seed, with ground truth.

Markup, list layouts, widgets, noise and faults are drawn from the seed, and takedowns of
every kind are planted at random rounds; `run.run_world` crawls the world with the real
command line over simulated days and `score.score` compares the export with the truth.
Detection rules must not be written from it, nor it from them: nothing here reads the
detector's phrasebook.

- ``texts``: words, titles, paragraphs, dates, relative times.
- ``notices``: real platform notice wordings (the shared real data, or an embedded few).
- ``markup``: skins (random templates) and the HTML they render.
- ``base``: documents and their fates, truth records, targets, the `Site` base class.
- ``portal``, ``forum``, ``social``: the site archetypes.
- ``faults``: 5xx, 429, timeouts, resets and challenge pages.
- ``world``: `World`, the responder of one seed, its truth and watchlist.
- ``score``, ``run``, ``__main__``: the harness (``python -m takedown.world run``).

Imports the stdlib, `takedown.demo.server` (the loopback server) and itself; the harness
runs ``python -m takedown`` as subprocesses, never the packages in-process.
"""
