# xtreme-s: set-up, demo, tests and task recipes. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch we test with; on a fresh CPU-only machine a bare `torch` would pull several GB of CUDA packages.
TORCH ?= torch==2.13.0
NPROC ?= 1
MINI ?= 0
MODEL ?=
OUTPUT ?=
ARGS ?=
PYTEST_ARGS ?=

RUN = $(if $(filter 1,$(NPROC)),$(BIN)/python,$(BIN)/torchrun --nproc_per_node=$(NPROC)) run_xtreme_s.py
# MINI=1: the same recipe on the bundled mini benchmark and tiny model, a few CPU steps, fp32; each run starts
# afresh (--overwrite_output_dir), so the same command can be run again.
MINI_FLAGS = --mini --overwrite_output_dir --max_steps 40 --eval_steps 20 --save_steps 20 --warmup_steps 5 --logging_steps 5 \
	--learning_rate 1e-3 --per_device_train_batch_size 8 --per_device_eval_batch_size 8 \
	--gradient_accumulation_steps 1 --fp16 False --activation_checkpointing False --mask_time_prob 0.05 \
	--mask_feature_prob 0 --dataloader_num_workers 0
# Per-encoder settings layered over the task recipe: task_configs/encoders/<prefix>.yaml whose name starts the
# model's basename (MODEL=facebook/w2v-bert-2.0 -> w2v-bert.yaml, MODEL=openai/whisper-small -> whisper.yaml).
ENCODER_CONFIG = $(firstword $(foreach f,$(wildcard task_configs/encoders/*.yaml),\
	$(if $(filter $(basename $(notdir $(f)))%,$(notdir $(MODEL))),$(f))))
# PROTOCOL=probe|lora|adapters layers the protocol's settings over the recipe (and encoder settings):
# task_configs/probe/<task>.yaml (per task: ML-SUPERB / SUPERB settings) or task_configs/peft/<protocol>.yaml.
PROTOCOL ?=
PROTOCOL_CONFIG = $(if $(PROTOCOL),$(firstword $(wildcard task_configs/$(PROTOCOL)/$@.yaml task_configs/peft/$(PROTOCOL).yaml)))
TASK_FLAGS = $(if $(ENCODER_CONFIG),--config $(ENCODER_CONFIG)) $(if $(PROTOCOL_CONFIG),--config $(PROTOCOL_CONFIG)) \
	$(if $(PROTOCOL),--protocol $(PROTOCOL)) $(if $(filter 1,$(MINI)),$(MINI_FLAGS)) $(if $(MODEL),--model_name_or_path $(MODEL)) \
	--output_dir $(or $(OUTPUT),outputs/$@$(if $(PROTOCOL),-$(PROTOCOL))$(if $(filter 1,$(MINI)),-mini)) $(ARGS)

.PHONY: help install system-deps demo test test-fast lint mls voxpopuli fleurs-asr babel covost2 mini-benchmark clean \
	fleurs-retrieval score compare bench mls-xls-r-2b minds14 fleurs-lang_id

help:
	@echo "make help        this list"
	@echo "make install     create .venv and install the package with its test extras (every target below needs it)"
	@echo "make demo        set up .venv and show on the bundled mini benchmark that the model learns (offline, ~2 min)"
	@echo "make test        set up .venv, install espeak-ng and sox (apt-get) and run the test suite"
	@echo "make test-fast   the test suite without the slow tests"
	@echo "make lint        ruff check"
	@echo "make system-deps espeak-ng and sox (apt-get; make test installs them)"
	@echo "make clean       remove outputs/ and the test and lint caches"
	@echo "make mls|voxpopuli|fleurs-asr|babel [NPROC=8] [MODEL=..] [OUTPUT=..] [MINI=1] [ARGS='--flag v']"
	@echo "make covost2 [ARGS='--data_dir DIR']  speech translation X->en (XLS-R + mBART-50) from fixie-ai/covost2 or Common Voice 4; same options"
	@echo "make mls-xls-r-2b NPROC=8   XLS-R 2B on MLS: FSDP + activation checkpointing (GPUs; see docs/scale-out.md)"
	@echo "make minds14|fleurs-lang_id [NPROC=2] [MODEL=..] [OUTPUT=..] [MINI=1] [ARGS='--flag v']  (classification)"
	@echo "make <task> PROTOCOL=probe|lora|adapters   frozen-encoder probe, LoRA or MMS adapters instead of fine-tuning"
	@echo "make mini-benchmark   regenerate mini_benchmark/ (needs espeak-ng: make system-deps)"
	@echo "make fleurs-retrieval [MODEL=..] [OUTPUT=..] [MINI=1] [ARGS=..]   FLEURS speech retrieval, P@1 (no training)"
	@echo "make score RUNS='outputs/mls outputs/voxpopuli ...'   overall XTREME-S score -> outputs/score/score.md"
	@echo "make compare RUNS='outputs/mls outputs/mls-probe ...' [BASELINE=outputs/mls]   leaderboard with intervals -> outputs/leaderboard/"
	@echo "make bench       throughput benchmark vs the reference approach -> benchmarks/results/bench.{json,md} [ARGS=..]"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

# espeak-ng (and sox): the test suite synthesises speech with espeak-ng (the language-ID learning check's training
# clips, the check that the committed mini benchmark is what its generator makes), and `make mini-benchmark` does;
# runs do not need them. Installed with apt-get (as root, or through sudo); where that cannot work, one line says
# what to install and the target fails.
SYSTEM_DEPS_MISSING = make: error: espeak-ng and sox are needed by the tests and
system-deps:
	@if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
			echo "$(SYSTEM_DEPS_MISSING) cannot be installed without root or sudo: install them (e.g. apt-get install espeak-ng sox, brew install espeak-ng sox) and rerun" >&2; exit 2; fi; \
		if ! command -v apt-get >/dev/null; then \
			echo "$(SYSTEM_DEPS_MISSING) this system has no apt-get: install them with its package manager (e.g. brew install espeak-ng sox) and rerun" >&2; exit 2; fi; \
		echo "Installing espeak-ng and sox with $${SUDO:+sudo }apt-get (needed by the tests; make system-deps)"; \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq espeak-ng sox >/dev/null; } || { \
			echo "$(SYSTEM_DEPS_MISSING) apt-get could not install them (see above): install espeak-ng and sox and rerun" >&2; exit 2; }; fi

# The demo overfits the 10 English training clips of the mini benchmark (the recipe of
# tests/test_end_to_end.py::test_tiny_model_learns_to_transcribe): it scores those clips before the first step
# (--eval_on_start) and after the last (--do_eval), and the held-out test clips (--do_predict). One thread: the
# 106 k-parameter model gains nothing from more, and on a busy machine threads waiting for each other made the
# same run 8x slower (0.35 instead of 2.8 training steps/s).
demo: install
	OMP_NUM_THREADS=1 $(BIN)/python run_xtreme_s.py --mini --dataset_config_name fleurs.en_us --output_dir outputs/demo \
		--overwrite_output_dir --do_train --do_eval --eval_split_name train --eval_on_start True \
		--eval_strategy steps --eval_steps 1000 --do_predict --max_steps 300 --learning_rate 3e-3 --warmup_steps 30 \
		--per_device_train_batch_size 10 --per_device_eval_batch_size 10 --mask_time_prob 0 \
		--freeze_feature_encoder False --save_strategy no --logging_steps 50 --seed 0 --report_to none \
		--disable_tqdm True $(ARGS)
	@echo
	@$(BIN)/python scripts/demo_summary.py outputs/demo
	@echo "Files: outputs/demo/results.json and results.md (tables per split), eval_predictions.jsonl (training clips)," \
		"predictions.jsonl (test clips)"

# The suite on PYTEST_WORKERS processes (pytest-xdist; `PYTEST_WORKERS=0` runs it in one), each test file on one of
# them (--dist loadfile: a file's shared runs, its module fixtures, are made once), each process on one thread: the
# tiny models gain nothing from more, and two processes of two threads on two cores wait for each other.
PYTEST_WORKERS ?= 2
PYTEST_RUN = OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -q \
	$(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
test: install system-deps
	$(PYTEST_RUN) $(PYTEST_ARGS)

test-fast: install
	$(PYTEST_RUN) -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports  # the dependency contracts of pyproject.toml (docs/design.md#dependencies)

mls voxpopuli fleurs-asr babel covost2 fleurs-retrieval mls-xls-r-2b minds14 fleurs-lang_id: install
	$(RUN) task_configs/$@.yaml $(TASK_FLAGS)

score: install
	$(BIN)/xtreme-s score $(RUNS) --output_dir $(or $(OUTPUT),outputs/score) $(ARGS)

# Leaderboard of runs with bootstrap intervals and paired significance (docs/compare.md).
compare: install
	$(BIN)/xtreme-s compare $(RUNS) $(if $(BASELINE),--baseline $(BASELINE)) --output_dir $(or $(OUTPUT),outputs/leaderboard) $(ARGS)

mini-benchmark: install system-deps
	$(BIN)/python scripts/make_mini_benchmark.py --out mini_benchmark

bench: install
	$(BIN)/python benchmarks/bench.py $(ARGS)

clean:
	rm -rf outputs .pytest_cache .ruff_cache
