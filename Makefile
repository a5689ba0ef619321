# The two commands of the README. Each installs what it needs first.
PYTHON ?= python3

.PHONY: install demo test unit molecule lab-up lab-down

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'

demo: install
	$(PYTHON) -m invoke demo

# pytest (unit, lab, Kubernetes), then the molecule scenarios (molecule/: lab slot 7).
test: install
	$(PYTHON) -m pytest tests
	$(PYTHON) -m molecule test --all

molecule: install
	$(PYTHON) -m molecule test --all

unit: install
	$(PYTHON) -m pytest tests/unit

lab-up: install
	$(PYTHON) -m invoke lab.up

lab-down: install
	$(PYTHON) -m invoke lab.down
