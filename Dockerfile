# syntax=docker/dockerfile:1
# The kaito-py operator image. Build and push with your own tools (docs/operator.md):
#   docker build -t REGISTRY/kaito-py:0.1.0.dev0 . && docker push REGISTRY/kaito-py:0.1.0.dev0
# tools/image/build.py makes the same layout without a container engine (debootstrap + umoci):
# a venv in /opt/kaito holding tools/image/requirements.txt and the project wheel, user 65532,
# ENTRYPOINT ["kaito", "operator"].

ARG PYTHON_VERSION=3.11

# -- build: the project wheel, then a venv with the pinned dependencies and that wheel ---------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY kaito_core ./kaito_core
COPY kaito_presets ./kaito_presets
COPY kaito_backends ./kaito_backends
COPY tools/image/requirements.txt /tmp/requirements.txt
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv --without-pip /opt/kaito \
 && pip --python /opt/kaito/bin/python install --no-deps --only-binary=:all: \
        --require-hashes -r /tmp/requirements.txt \
 && pip --python /opt/kaito/bin/python install --no-deps /dist/*.whl \
 && rm -rf /opt/kaito/share

# -- run: the slim base, the venv, a non-root numeric user, no shell in the entrypoint ---------
FROM python:${PYTHON_VERSION}-slim-bookworm
ARG VERSION=0.1.0.dev0
LABEL org.opencontainers.image.title="kaito-py" \
      org.opencontainers.image.description="The kaito-py operator: KAITO Workspaces reconciled by a pure-Python engine" \
      org.opencontainers.image.source="https://github.com/kaito-py/kaito-py" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 65532 kaito \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kaito
COPY --from=build /opt/kaito /opt/kaito
ENV PATH=/opt/kaito/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /
ENTRYPOINT ["kaito", "operator"]
