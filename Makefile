# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PO := $(wildcard lms/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test install migrate sync demo serve translations extract-messages bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

translations: $(MO)

install: $(STAMP) translations

migrate: install
	$(BIN)/flask db upgrade

sync: migrate
	$(BIN)/flask content sync

demo: sync
	$(BIN)/flask dev demo-accounts

## Set up everything, then serve the demo on http://$(HOST):$(PORT)
run: demo
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl+C to stop)"
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --access-logfile - wsgi:app

## Install and run the whole test suite (PYTEST_ARGS=... to narrow it)
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Re-extract translatable strings into the catalogs
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o lms/translations/messages.pot .
	$(BIN)/pybabel update -i lms/translations/messages.pot -d lms/translations --no-fuzzy-matching

## Benchmarks, recorded in docs/performance.md: content sync, then one 200 MB upload
bench: install
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/upload_bench.py

clean:
	rm -rf $(VENV) instance build *.egg-info

## Load benchmark of issue 7 at full scale on SQLite and PostgreSQL (needs wrk; about an hour)
.PHONY: bench-load
bench-load: install
	mkdir -p bench/out
	$(BIN)/python bench/load_bench.py --scale 10 --db both --duration 20 --out bench/out/load-bench.md
