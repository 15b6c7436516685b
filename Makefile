# The two commands a newcomer needs (see README):
#   make quickstart   install, build the offline base model, train, evaluate, extract the seed article's facts
#   make test         install with test extras and run the test suite (what CI runs)
PYTHON ?= python3

.PHONY: install install-test quickstart test

# torch is installed only where none is present: here `torch==2.13.0` is a CPU
# build from local disk; GPU users keep (or install) their CUDA build.
install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e .

install-test:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[test]"

quickstart: install
	persian-ie train configs/quickstart.yaml

test: install-test
	$(PYTHON) -m pytest -q
