# The two commands of the README. Each installs what it needs first.
PYTHON ?= python3

.PHONY: install demo test unit lab-up lab-down

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'

demo: install
	$(PYTHON) -m invoke demo

test: install
	$(PYTHON) -m pytest tests

unit: install
	$(PYTHON) -m pytest tests/unit

lab-up: install
	$(PYTHON) -m invoke lab.up

lab-down: install
	$(PYTHON) -m invoke lab.down
