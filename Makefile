# Bamrung: `make demo` and `make test` do all the set-up on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_BOUNDARIES ?= ../shared/data/boundaries
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_HOUSEHOLDS ?= 200000
DEMO_SURVEY ?= .bamrung/demo/ubon-survey.csv
DEMO_PASSWORD ?= bamrung-demo-2567
DEMO_CASES_AREA ?= 3412
HOME_DIR ?= .bamrung
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENDOR := api/static/vendor

.PHONY: help demo test bench setup system browser gis lint docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

demo: setup  ## set up, start the database, load boundaries, import a synthetic Ubon survey, serve
	$(BIN)/bamrung db up
	$(BIN)/bamrung db migrate
	@if [ -d "$(SHARED_BOUNDARIES)" ]; then \
		$(BIN)/bamrung boundaries load "$(SHARED_BOUNDARIES)"; \
	else \
		echo "no boundaries at $(SHARED_BOUNDARIES): run 'bamrung boundaries fetch' or 'bamrung boundaries load PATH'"; \
	fi
	$(BIN)/bamrung boundaries check
	@if [ ! -f $(DEMO_SURVEY) ]; then \
		mkdir -p $(dir $(DEMO_SURVEY)) && $(BIN)/bamrung synth --province 34 --households $(DEMO_HOUSEHOLDS) --defects 0.02 --out $(DEMO_SURVEY); \
	fi
	$(BIN)/bamrung import $(DEMO_SURVEY)
	$(BIN)/bamrung synth-water --province 34
	$(BIN)/bamrung stats --area 34 --level district
	$(BIN)/bamrung density --area 34 --kde --bandwidth 2000
	$(BIN)/bamrung hotspots --area 34
	$(BIN)/bamrung overlay zones --kind flood_zones --kind drought_zones --area 34 --level district
	$(BIN)/bamrung target --area 34 --level subdistrict --top 20
	@# One district's open problems were referred a year ago and a SYNTHETIC year of answers
	@# follows (seeded); the rest of the province's are referred today.
	$(BIN)/bamrung cases routes check
	$(BIN)/bamrung cases refer --area $(DEMO_CASES_AREA) --now "$$(date -d '-365 days' +%F)T09:00+07:00"
	$(BIN)/bamrung cases simulate --start "$$(date -d '-365 days' +%F)" --days 365 --seed 7 --area $(DEMO_CASES_AREA)
	$(BIN)/bamrung cases refer --area 34
	$(BIN)/bamrung cases escalate
	@# SYNTHETIC communities of Phibun Mangsahan municipality and their 2565 planning issues.
	$(BIN)/bamrung communities synth --subdistrict 341901 --year 2565
	$(BIN)/bamrung cases kpis --by agency
	$(BIN)/bamrung gallery --area 34
	$(BIN)/bamrung map cases --area 34 --escalated --dimension education --out $(HOME_DIR)/maps/cases-escalated-education.html
	@# The targeting layer for QGIS: one styled GeoPackage with its own project (docs/delivery.md).
	@mkdir -p $(HOME_DIR)/exports
	$(BIN)/bamrung export targeting rollup --area 34 --level subdistrict --out $(HOME_DIR)/exports/ubon-targeting.gpkg
	@# One user of each role that works in the browser, all with the demo password.
	@$(BIN)/bamrung users list --json > $(HOME_DIR)/users.json; \
	for user in "demo --role admin" "governor --role governor --area 34" \
		"district --role officer --area $(DEMO_CASES_AREA)" "lands --role agency_officer --office dol-34" \
		"reviewer --role reviewer" "analyst --role analyst"; do \
		set -- $$user; grep -q "\"name\": \"$$1\"" $(HOME_DIR)/users.json \
			|| $(BIN)/bamrung users add $$user --password "$(DEMO_PASSWORD)" || exit 1; \
	done; rm -f $(HOME_DIR)/users.json
	@echo "log in at http://$(HOST):$(PORT)/login as demo, governor, district, lands, reviewer or analyst,"
	@echo "password '$(DEMO_PASSWORD)' (the README says what each one sees); an API token of demo:"
	@$(BIN)/bamrung users token demo --label "make demo"
	@echo "QGIS: open $(HOME_DIR)/exports/ubon-targeting.gpkg (Project > Open From > GeoPackage), or connect"
	@echo "to http://$(HOST):$(PORT)/ogc and http://$(HOST):$(PORT)/tiles/households.json (docs/delivery.md)"
	@# The job queue's worker (escalation, webhook delivery, export jobs) runs beside the app, and stops with it.
	$(BIN)/bamrung worker & worker=$$!; trap "kill $$worker" EXIT; \
		$(BIN)/bamrung serve --host $(HOST) --port $(PORT)

test: setup browser gis lint  ## set up, then lint, type-check and run the whole suite against a real PostGIS
	$(BIN)/pytest

# tipg, the peer of the OGC API and the tiles, in a virtualenv of its own (it pins FastAPI).
TIPG_VENV := .bamrung/tipg-venv

$(TIPG_VENV)/bin/uvicorn:
	$(PYTHON) -m venv $(TIPG_VENV)
	$(TIPG_VENV)/bin/pip install --quiet tipg==1.6.1 uvicorn==0.54.0

bench: setup gis $(TIPG_VENV)/bin/uvicorn  ## speed against peer tools (ogr2ogr, pyogrio, tipg); a national survey is built once
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)
	$(BIN)/python bench/analysis.py $(BENCH_ANALYSIS_ARGS)
	$(BIN)/python bench/maps.py $(BENCH_MAPS_ARGS)
	$(BIN)/python bench/serve.py $(BENCH_SERVE_ARGS)
	$(BIN)/python bench/targeting.py $(BENCH_TARGETING_ARGS)
	$(BIN)/python bench/cases.py $(BENCH_CASES_ARGS)
	$(BIN)/python bench/web.py $(BENCH_WEB_ARGS)
	$(BIN)/python bench/delivery.py --tipg-venv $(TIPG_VENV) $(BENCH_DELIVERY_ARGS)

lint: setup  ## ruff and mypy
	$(BIN)/ruff check geo layers api tests bench
	$(BIN)/ruff format --check geo layers api tests bench
	$(BIN)/mypy

docs: $(VENV)/.installed  ## regenerate docs/configuration.md from the Settings field descriptions
	$(BIN)/python -m layers.store.configdoc > docs/configuration.md

setup: system $(VENV)/.installed $(VENDOR)/node_modules/.installed  ## system packages, a virtualenv, the package (editable) and the maps' pinned Leaflet files

system:  ## the Debian packages that are missing: PostgreSQL + PostGIS, python3-venv
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Bamrung needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	@missing=""; \
	if [ -z "$$DATABASE_URL" ] && ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
		missing="$$missing postgresql postgresql-postgis"; fi; \
	if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if ! command -v npm >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Leaflet and its plugins, pinned by package-lock.json and served by the app: maps never load a CDN.
$(VENDOR)/node_modules/.installed: $(VENDOR)/package.json $(VENDOR)/package-lock.json
	npm ci --prefix $(VENDOR) --no-audit --no-fund --loglevel=error
	touch $@

browser:  ## Debian's Chromium, for the tests of pages and maps (their Thai font is vendored: Sarabun)
	@[ -x /usr/bin/chromium ] || { echo "installing Debian packages: chromium"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# QGIS 3.22 as Debian 12 ships it: python3-qgis for the probes, the desktop package for the
# OAuth2 sign-in method (it is not in python3-qgis), python3-gdal for GDAL's validate_gpkg.py.
GIS_PACKAGES = gdal-bin python3-gdal python3-qgis qgis-providers qgis

gis:  ## Debian's GDAL and QGIS: the tests read exports, the OGC API and tiles back with them
	@command -v ogrinfo >/dev/null && [ -f /usr/lib/qgis/plugins/libauthmethod_oauth2.so ] \
		&& /usr/bin/python3 -c "import qgis.core, osgeo" 2>/dev/null || { \
		echo "installing Debian packages: $(GIS_PACKAGES)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $(GIS_PACKAGES); }

clean:  ## stop the private cluster and remove it with the virtualenv
	-[ -x $(BIN)/bamrung ] && $(BIN)/bamrung db down
	rm -rf .bamrung $(VENV) $(VENDOR)/node_modules
