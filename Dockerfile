# CPU image with the same setup steps as `make serve`: the Makefile's system-deps + install targets.
FROM python:3.11-slim-bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/app
# CPU wheels for torch==2.13.0 (PyPI's Linux wheel is the CUDA build)
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY Makefile requirements.txt ./
RUN make system-deps install PY=python3 && rm -rf /var/lib/apt/lists/*
COPY . .
# the entity encoder's ONNX export (models/encoder_onnx.py), so no container start imports transformers
RUN .venv/bin/python -m models.encoder_onnx > /dev/null
ENV PROJECT_DIR=/srv/app RUN_DIR=/srv/app/run REDIS_PORT=6380 BIND=0.0.0.0:8000 WORKERS=2
RUN mkdir -p /srv/app/run
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s CMD python3 -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"
CMD ["supervisord", "-n", "-c", "deploy/supervisord.conf"]
