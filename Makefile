# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint build clean bench bench-peers

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# Installs voxpipe editable with its test extras and builds the Cython kernels in place.
$(STAMP): $(BIN)/python pyproject.toml setup.py $(wildcard native/*.pyx native/*.pxi)
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/python setup.py -q build_ext --inplace
	touch $(STAMP)

build: $(STAMP)

# The example agent (a tool, event handlers) on a three-turn call, offline.
demo: $(STAMP)
	$(BIN)/voxpipe run --agent examples/weather_agent.py \
		--input examples/audio/three_turns.wav --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check pipeline ipc native tests benchmarks
	$(BIN)/mypy pipeline ipc native

# Most of the suite is real-time calls that wait on the clock, not the CPU: two
# workers run test files side by side (a file's module fixtures stay in one worker).
# The headless-Chromium calls then run on their own: a browser, its media threads and
# the server's stages need the machine a live call would have.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile \
		-m 'not soak and not browser'
	$(BIN)/python -m pytest -q -p no:cacheprovider -m browser

bench: $(STAMP)
	$(BIN)/python benchmarks/latency.py --sessions 20
	$(BIN)/python benchmarks/dsp.py --seconds 10 --peers voxpipe,plain
	$(BIN)/python benchmarks/barge_in.py --runs 3
	$(BIN)/python benchmarks/model_latency.py

# The inbound DSP chain against livekit-agents' and pipecat's (their packages are the
# optional `bench` extra, never a runtime dependency).
bench-peers: $(STAMP)
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python benchmarks/dsp.py --seconds 30 --json out/bench_dsp.json

clean:
	rm -rf build out native/*.so native/*.c *.egg-info
