# Two commands on a fresh machine:
#   make run    installs metagate and starts it (with no upstream: an embedded local ZenML server)
#   make test   installs metagate, its test tools and services, and runs the whole test suite
.PHONY: run test

CONFIG ?= $(wildcard metagate.yaml)

run:
	@scripts/bootstrap
	@.venv/bin/metagate run $(if $(CONFIG),--config $(CONFIG))

test:
	@scripts/bootstrap --test
	@scripts/test-services
	@.venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)
	@# The unit tests again on the scanner's pure-Python source, which runs where no C
	@# compiler built the compiled modules (scanner/compiled.py).
	@$(if $(PYTEST_ARGS),,METAGATE_PURE_PYTHON=1 .venv/bin/python -m pytest -p no:cacheprovider -q tests/unit)
