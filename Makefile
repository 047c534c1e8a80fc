# okdhp-mm: `make demo` and `make test` set up .venv first when needed (tools/setup_env.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=
EVIDENCE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup demo demo-quick evidence evidence-quick test test-fast clean

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

demo-quick: setup
	$(PY) tools/demo.py --quick $(DEMO_ARGS)

# Every method against the same student alone, 5 seeds (HHD 3), on the built-in data (about
# 2 hours on 2 cores; finished runs are reused).
evidence: setup
	$(PY) tools/evidence.py $(EVIDENCE_ARGS)

evidence-quick: setup
	$(PY) tools/evidence.py --quick $(EVIDENCE_ARGS)

# Two pytest workers (pytest-xdist), one intra-op thread each (tests/conftest.py): most tests
# wait on imports, subprocesses and single-threaded Python, so two at a time use both cores;
# worksteal: an idle worker takes queued tests from the busy one (the long e2e runs).
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest tests -q -n $(TEST_WORKERS) --dist worksteal --durations=15 $(PYTEST_ARGS)

# The suite without the end-to-end training runs.
test-fast: setup
	$(PY) -m pytest tests -q -n $(TEST_WORKERS) --dist worksteal -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf work_dirs outputs .pytest_cache

# The prepared GPU check (tools/gpu_check.sh): installs the stack if needed, then about 5
# minutes of CUDA steps; summary in $(GPU_CHECK_OUT)/gpu_check.{json,md}. Dry run on the CPU:
# make gpu-check GPU_CHECK_ARGS="--cpu --tiny".
GPU_CHECK_OUT ?= reports/gpu_check
GPU_CHECK_ARGS ?=
.PHONY: gpu-check
gpu-check:
	bash tools/gpu_check.sh $(GPU_CHECK_ARGS) $(GPU_CHECK_OUT)
