# Two stages. `build` installs everything (requirements.txt: torch, transformers) to export the entity encoder
# to ONNX once; the service image installs only what a worker imports (requirements-serve.txt, no torch: a
# ~290 MB venv instead of ~1.6 GB) and takes the exports from `build`. Both use the Makefile's setup targets.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/app
# CPU wheels for torch==2.13.0 (PyPI's Linux wheel is the CUDA build)
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY Makefile requirements.txt requirements-serve.txt ./
RUN make system-deps install PY=python3
COPY . .
# int8 (the default) and fp32 (ENTITY_ENCODER_INT8=false): a worker without torch cannot export (models/encoder_onnx.py)
RUN .venv/bin/python -m models.encoder_onnx > /dev/null && .venv/bin/python -m models.encoder_onnx --fp32 > /dev/null

FROM python:3.11-slim-bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/app
COPY Makefile requirements-serve.txt ./
RUN make system-deps install-serve PY=python3 && rm -rf /var/lib/apt/lists/*
COPY . .
COPY --from=build /srv/app/.cache/onnx .cache/onnx
ENV PROJECT_DIR=/srv/app RUN_DIR=/srv/app/run REDIS_PORT=6380 BIND=0.0.0.0:8000 WORKERS=2
# the settings above checked as gunicorn will check them (app/config.py): a wrong one fails the build, named
RUN mkdir -p /srv/app/run && chown 10001:10001 /srv/app/run && .venv/bin/python -m app.config > /dev/null
# Not root: supervisord, redis and gunicorn run as 10001 (deploy/k8s/service.yaml's user too), and write only RUN_DIR
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s CMD python3 -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"
CMD ["supervisord", "-n", "-c", "deploy/supervisord.conf"]
