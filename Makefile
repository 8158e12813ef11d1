# Everything installs itself: on a fresh machine `make demo` and `make test` are the set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DEMO_DATA ?= demo-data
DEMO_DAYS ?= 10
# pywb (replay) and wacz (package validation) in a venv of their own: pywb pins redis<3, which
# the crawler's scrapy-redis cannot share.  Tests that replay or validate archives find it here.
ARCHIVE_VENV ?= .venv-archive

.PHONY: install browser archive-tools demo test bench lint clean fuzz

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The viewer's browser tests drive Debian's Chromium (Playwright cannot download browsers
# here) and need a CJK font so Chinese renders as text, not boxes.  Installed when missing
# and we may (root with apt); otherwise those tests skip and say why.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi wqy; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null)); \
	  else echo "note: chromium or fonts-wqy-zenhei missing; browser tests will skip"; fi; \
	fi

archive-tools:
	@test -x $(ARCHIVE_VENV)/bin/wacz -a -x $(ARCHIVE_VENV)/bin/wb-manager || \
	  ($(PYTHON) -m venv $(ARCHIVE_VENV) && \
	   $(ARCHIVE_VENV)/bin/pip install -q 'pywb>=2.8,<3' 'wacz>=0.5,<1')

demo: $(STAMP)
	rm -rf $(DEMO_DATA)
	$(PY) -m takedown --data $(DEMO_DATA) demo --days $(DEMO_DAYS)

# two workers: the machine's two cores (see tests/conftest.py for how tests are grouped)
test: $(STAMP) browser archive-tools
	$(PY) -m pytest -n 2 --dist loadgroup --durations=25

bench: $(STAMP)
	$(PY) -m bench

# tests/test_fuzz.py's properties with a large budget: TAKEDOWN_FUZZ_EXAMPLES inputs a property
# (default 10000: over 10^5 in all), in one process; prints the inputs tried and crashes found
# per property and fails on any crash.  Not part of `make test`, which runs 50 a property.
fuzz: $(STAMP)
	TAKEDOWN_FUZZ_PROFILE=fuzz $(PY) -m pytest tests/test_fuzz.py -p no:cacheprovider -q \
	  --tb=short

lint: $(STAMP)
	$(PY) -m ruff check crawler snapshots diffing reports takedown tests bench

clean:
	rm -rf $(DEMO_DATA) bench-out .pytest_cache
