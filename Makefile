# `make demo` and `make test` create .venv when it is missing and install the project into it.
# Re-running is a fast no-op while pyproject.toml is unchanged (the stamp file records the install).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jpegnn-installed

.PHONY: install demo test test-slow clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

# make demo [KODAK=/path/to/kodak]: also code the 24 Kodak images
demo: $(STAMP)
	$(PY) -m jpegnn.demo $(if $(KODAK),--kodak $(KODAK))

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

clean-venv:
	rm -rf $(VENV)
