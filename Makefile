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
