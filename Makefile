# The two commands of the README:
#   make quickstart   set up, then train, quantize, evaluate and benchmark on the embedded default
#   make test         set up (Python, Debian packages, Maven artifacts), then run every test
VENV := .venv
PY := $(VENV)/bin/python
QUICKSTART_OUT ?= quickstart-out

.PHONY: quickstart test test-python test-android setup system-deps

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed

system-deps:
	scripts/install-system-deps

quickstart: setup
	$(VENV)/bin/abpn-tool quickstart --out $(QUICKSTART_OUT)

test-python: setup system-deps
	$(VENV)/bin/pytest -q

test-android: system-deps
	android/build-offline

# The APK build first: it leaves the Kotlin-built records that pytest validates against the schema.
test: setup system-deps
	android/build-offline
	$(VENV)/bin/pytest -q
