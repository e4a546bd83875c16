# syntax=docker/dockerfile:1
# One image for the swell workers (`swell worker module:app`) and the operator (`swell-operator`).
#   docker build -t swell:0.1.0 .
# The builder installs swell with its operator and monitoring extras into a venv; the final stage
# copies only that venv (every dependency ships wheels, so no compiler is needed anywhere).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, so editing the source does not re-download them.
COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY operator ./operator
# Not editable: the package lands in the venv's site-packages, and pip precompiles it (the
# read-only root filesystem at run time means nothing can be compiled later).
RUN /opt/venv/bin/pip install ".[operator,monitoring]"

FROM ${PYTHON_IMAGE} AS final
LABEL org.opencontainers.image.title="swell" \
      org.opencontainers.image.description="swell workers and the swell Kubernetes operator" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed non-root uid/gid, matching the chart's runAsUser, so the root filesystem can be read-only.
RUN groupadd --system --gid 10001 swell \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin swell
COPY --from=builder /opt/venv /opt/venv
# The demo worker app and load generator (examples/), importable as swell_demo / swell_load.
COPY examples/swell_demo.py examples/swell_load.py /app/examples/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/examples \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001:10001
# No ENTRYPOINT: the pod picks the program (`swell worker ...`, `swell-operator ...`, `swell ...`).
CMD ["swell", "--help"]
