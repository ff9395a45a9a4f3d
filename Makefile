# Single entry point: `make serve` (install + start under supervisor), `make test` (whole suite).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PROJECT_DIR := $(CURDIR)
export RUN_DIR ?= $(CURDIR)/run
export REDIS_PORT ?= 6380
export BIND ?= 127.0.0.1:8000
export WORKERS ?= 2
APT_PACKAGES := redis-server supervisor curl

.PHONY: system-deps test-deps install install-serve encoder-onnx serve reload stop status logs test train-names evaluate-names name-lists pretrain-encoder train-entities evaluate-entities bench clean

system-deps:  ## Debian packages: redis-server, supervisor (and python3-venv where missing)
	@if ! command -v redis-server >/dev/null || ! command -v supervisord >/dev/null || ! command -v curl >/dev/null \
	    || ! $(PY) -m venv --help >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) python3-venv; \
	fi

# $(VENV) with the pinned requirements file $(1)
define venv_with
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r $(1)
endef

$(VENV)/.installed: requirements.txt requirements-serve.txt
	$(call venv_with,requirements.txt)
	touch $@

install: system-deps $(VENV)/.installed  ## venv with pinned requirements (torch==2.13.0 CPU)

install-serve: system-deps  ## venv with only what the service imports (requirements-serve.txt: no torch; the Docker image)
	$(call venv_with,requirements-serve.txt)

serve: install encoder-onnx  ## start redis + gunicorn under supervisor and wait until /ready
	@$(VENV)/bin/python -m app.config > /dev/null  # a wrong setting stops here, named, not after a minute's wait
	@mkdir -p $(RUN_DIR)
	@if [ -S $(RUN_DIR)/supervisor.sock ] && supervisorctl -c deploy/supervisord.conf status >/dev/null 2>&1; then \
	  supervisorctl -c deploy/supervisord.conf restart all; else supervisord -c deploy/supervisord.conf; fi
	@for i in $$(seq 1 60); do curl -sf http://$(BIND)/ready >/dev/null && break; sleep 1; done
	@curl -s http://$(BIND)/ready && echo && echo "serving on http://$(BIND) (make stop to stop)" \
	  || { echo "service not ready; see $(RUN_DIR)/gunicorn.log"; supervisorctl -c deploy/supervisord.conf status; exit 1; }

encoder-onnx: install  ## export the entity encoder for ONNX Runtime once (models/encoder_onnx.py; cached in .cache/onnx)
	$(VENV)/bin/python -m models.encoder_onnx > /dev/null

reload:  ## after new checkpoints or code: fresh workers load them while the old ones finish (HUP; nothing dropped)
	@$(VENV)/bin/python -m app.preflight || { echo "reload refused: the new checkpoints or code do not load (above); still serving the old"; exit 1; }
	supervisorctl -c deploy/supervisord.conf signal HUP gunicorn
	@for i in $$(seq 1 30); do sleep 1; curl -sf http://$(BIND)/ready && echo && exit 0; done; \
	  echo "not ready after the reload; see $(RUN_DIR)/gunicorn.log"; exit 1

stop:  ## stop everything; returns once supervisord has exited (its programs first), so `make serve` may follow at once
	-supervisorctl -c deploy/supervisord.conf shutdown
	@pid=$$(cat $(RUN_DIR)/supervisord.pid 2>/dev/null); [ -z "$$pid" ] && exit 0; \
	  for i in $$(seq 1 600); do kill -0 $$pid 2>/dev/null || exit 0; sleep 0.1; done; \
	  echo "supervisord ($$pid) still running after 60 s; see $(RUN_DIR)/supervisord.log"; exit 1

status:
	supervisorctl -c deploy/supervisord.conf status

test-deps:  ## Debian chromium (demo-page browser test), nginx (scale-out test), wrk (benchmarks), promtool (alert rules)
	@if ! command -v chromium >/dev/null || ! command -v wrk >/dev/null || ! { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null \
	    || ! command -v promtool >/dev/null; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium wrk nginx-light \
	  && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; fi

test: install test-deps  ## the whole suite (starts its own redis-server/supervisord on free ports)
	$(VENV)/bin/python -m pytest -q tests

train-names: install  ## rebuild the shipped name checkpoints: teachers, then students (models/train_shipped.sh; ~1 h)
	bash models/train_shipped.sh names

evaluate-names:
	$(VENV)/bin/python -m models.evaluate_names --arch gru lstm rnn

NAME2NAT_DIR ?= /tmp/n2n
name-lists: install  ## rebuild models/name_lists/ from name2nat 0.5.1's Wikipedia people (PyPI; fetched, not installed)
	$(VENV)/bin/pip download -q --no-deps name2nat==0.5.1 -d $(NAME2NAT_DIR)
	cd $(NAME2NAT_DIR) && unzip -o -q name2nat-0.5.1-py3-none-any.whl
	$(VENV)/bin/python -m models.build_name_lists --name2nat $(NAME2NAT_DIR)/name2nat/name2nats.pkl

pretrain-encoder: install  ## the shipped encoder's three pretraining runs (~2.5 h on 2 cores); retrain the RNN after
	bash models/train_shipped.sh encoder

train-entities: install  ## the entity RNN on checkpoints/entity-encoder, then its reports as trained and as served
	bash models/train_shipped.sh entities

evaluate-entities:  ## as served: ONNX Runtime, int8
	$(VENV)/bin/python -m models.evaluate_entities --runtime onnx --int8

bench:
	$(VENV)/bin/python bench/model_limits.py

clean:
	rm -rf $(RUN_DIR) .pytest_cache
