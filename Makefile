# Everything installs itself: on a fresh machine `make demo` and `make test` are the set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DEMO_DATA ?= demo-data
DEMO_DAYS ?= 10

.PHONY: install demo test bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_DATA)
	$(PY) -m takedown --data $(DEMO_DATA) demo --days $(DEMO_DAYS)

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check crawler snapshots diffing reports takedown tests bench

clean:
	rm -rf $(DEMO_DATA) bench-out .pytest_cache
