# Two commands: `make serve` and `make test`. Both install what they need into .venv.
PORT ?= 8001
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test
PUBLISH_INSTALLED := $(VENV)/.installed-publish
RELEASE_INSTALLED := $(VENV)/.installed-release
DIR ?= build/deploy
APP ?= imu-dataset
SEEDS := $(wildcard seeds/*.yml)
# The release package of the database built, which the site offers for download.
RELEASE_ZIP = dist/imu-dataset-$(shell cat VERSION).zip
# Debian packages the project needs beyond Python's; Debian starts its own nginx on port 80: not ours.
APT_INSTALL = apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
NGINX_STOP = service nginx stop >/dev/null 2>&1 || true
CHROMIUM ?= /usr/bin/chromium
SQLITE3 ?= /usr/bin/sqlite3
NGINX ?= /usr/sbin/nginx

.PHONY: serve serve-prod prod-deps test build test-deps clean deploy-dir publish release coverage

# Serving needs only datasette, its plugins and the build's dependencies; the tests add
# pytest, Hypothesis, Playwright and the rest of the `test` extra on top.
$(INSTALLED): pyproject.toml VERSION
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(PUBLISH_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet -e ".[publish]"
	touch $@

$(RELEASE_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet -e ".[release]"
	touch $@

# The folder `datasette publish fly` deploys (database, metadata, plugins with a wheel of
# this project, templates, settings, Dockerfile), written to DIR without deploying.
deploy-dir: imu.db $(RELEASE_ZIP) $(PUBLISH_INSTALLED)
	$(PY) scripts/deploy_dir.py $(DIR) --app $(APP)

# Deploy to Fly.io as APP (https://APP.fly.dev/); needs flyctl, logged in.
publish: imu.db $(RELEASE_ZIP) $(PUBLISH_INSTALLED)
	$(PY) scripts/deploy_dir.py $(DIR) --app $(APP) --deploy

# dist/imu-dataset-<version>/ and its zip: a Frictionless data package, validated
# (scripts/release.py); PREVIOUS=old/imu.db adds CHANGELOG.md against that release, and
# URL=https://SITE the site's address (absolute GeoJSON links, CITATION.cff's url).
release: imu.db $(RELEASE_INSTALLED)
	$(PY) scripts/release.py --db imu.db --out dist $(if $(PREVIOUS),--previous $(PREVIOUS)) $(if $(URL),--base-url $(URL))

imu.db: $(INSTALLED) build_db.py schema.py dataset.py VERSION fold.py seedparse.py quotes.py cache.py files.py dates.py spans.py labels.py sentences.py $(SEEDS) $(wildcard ../shared/seeds/*.txt)
	$(PY) build_db.py --seeds seeds --out imu.db

inspect.json: imu.db
	$(VENV)/bin/datasette inspect imu.db --inspect-file inspect.json

# The zip as `make release` writes it, without frictionless's validation of the CSVs (the
# FtM entities are validated as they are written); the site serves it beside the database
# (plugins/pages.py).
$(RELEASE_ZIP): imu.db scripts/release.py geojson_export.py ftm_export.py CITATION.cff $(RELEASE_INSTALLED)
	$(PY) scripts/release.py --db imu.db --out dist --no-validate

build: imu.db inspect.json $(RELEASE_ZIP)

# Datasette on imu.db, started again when a build replaces it (scripts/serve.py).
serve: build
	$(PY) scripts/serve.py --port $(PORT)

# One Datasette per core behind Debian's nginx (scripts/serve_prod.py, prod/nginx.conf).
serve-prod: build prod-deps
	$(PY) scripts/serve_prod.py --port $(PORT)

prod-deps:
	@test -x $(NGINX) || { echo "installing Debian's nginx for serve-prod"; \
		$(APT_INSTALL) nginx || exit 1; $(NGINX_STOP); }

# Browser tests drive Debian's Chromium, the build's tests compare `sqlite3 .dump`
# outputs, and serve-prod's tests start nginx; install what is missing (as root, through apt).
# A failed install stops here, with apt's own message (a run without Chromium ended in 48 errors).
test-deps:
	@missing=""; test -x $(CHROMIUM) || missing="$$missing chromium"; \
	test -x $(SQLITE3) || missing="$$missing sqlite3"; \
	test -x $(NGINX) || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then echo "installing Debian's$$missing for the tests"; \
		$(APT_INSTALL) $$missing || { echo "make: could not install$$missing (apt failed, above)" >&2; exit 1; }; \
		$(NGINX_STOP); fi

# The untimed tests on both cores (pytest-xdist, a test file to a worker), then the timed
# and resource-bounded ones (marked `serial`: load, attacks, serve-prod, the build's
# limits) alone, so that no other test's work skews what they measure. One after the other
# the whole suite took 9 minutes of the 10 this machine allows.
test: $(TEST_INSTALLED) test-deps
	$(PY) -m pytest -n 2 --dist loadfile -m "not serial"
	$(PY) -m pytest -m serial

# How much of each document the claims quote, and the longest passages none quotes (sentences.py).
coverage: imu.db
	$(PY) sentences.py --db imu.db

clean:
	rm -rf imu.db inspect.json .imu.db.cache build dist
