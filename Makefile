# Two commands: `make serve` and `make test`. Both install what they need into .venv.
PORT ?= 8001
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
SEEDS := $(wildcard seeds/*.yml)
SETTINGS = $(shell $(PY) -c "import json; print(' '.join(f'--setting {k} {str(v).lower() if isinstance(v, bool) else v}' for k, v in json.load(open('settings.json')).items()))")

.PHONY: serve test build browser clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

imu.db: $(INSTALLED) build_db.py schema.py fold.py $(SEEDS)
	$(PY) build_db.py --seeds seeds --out imu.db

inspect.json: imu.db
	$(VENV)/bin/datasette inspect imu.db --inspect-file inspect.json

build: imu.db inspect.json

serve: build
	$(VENV)/bin/datasette serve -i imu.db --inspect-file inspect.json -m metadata.yml \
		--plugins-dir plugins --template-dir templates \
		--host 127.0.0.1 --port $(PORT) $(SETTINGS)

# Browser tests drive Debian's Chromium; install it when it is missing.
browser:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: $(INSTALLED) browser
	$(PY) -m pytest

clean:
	rm -rf imu.db inspect.json .imu.db.cache
