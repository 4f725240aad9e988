# supportd — the quick start is `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/supportd.toml

.PHONY: install run test test-integration lint bench clean wheel install-system

$(BIN)/supportd: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/supportd

run: install
	$(BIN)/supportd --config $(CONFIG) db upgrade
	$(BIN)/supportd --config $(CONFIG) orgs import config/demo-registry.toml
	$(BIN)/supportd --config $(CONFIG) run

test: install
	$(BIN)/pytest -q

test-integration: install
	$(BIN)/pytest -q -m integration

lint: install
	$(BIN)/ruff check daemon tests bench
	$(BIN)/mypy daemon

# The benchmark of issue 5 (~15 min; not part of `make test`): writes bench/RESULTS.md.
# `$(BIN)/python bench/run.py --quick` is a smoke run; bench/deadlines.py runs alone too.
bench: install
	$(BIN)/python bench/run.py

# Shell completion (bash, zsh) and the man page supportd(8), generated from the CLI's
# parser, into the system's folders (as root; `supportd` must be the installed one).
SUPPORTD ?= /opt/supportd/.venv/bin/supportd
install-system:
	install -d /usr/share/bash-completion/completions /usr/local/share/zsh/site-functions \
		/usr/local/share/man/man8
	$(SUPPORTD) completion bash > /usr/share/bash-completion/completions/supportd
	$(SUPPORTD) completion zsh > /usr/local/share/zsh/site-functions/_supportd
	$(SUPPORTD) man > /usr/local/share/man/man8/supportd.8
	-mandb -q

# The release's wheel: dist/supportd-VERSION-py3-none-any.whl (templates and migrations inside).
wheel: install
	$(BIN)/pip wheel --quiet --no-deps -w dist .

clean:
	rm -rf var .pytest_cache build dist
