# tinysquid as a container image: `tinysquid verify` from inside the cluster, where the new squid's
# ClusterIP Service and the real clients are (the Job that plan-cutover writes and
# `tinysquid verify --print-job` prints runs it). Build: docker build -t tinysquid:VERSION .
# The base is pinned by tag and digest (python 3.11, the project's oldest supported Python, Debian 12 slim).
FROM python:3.11-slim-bookworm@sha256:b18992999dbe963a45a8a4da40ac2b1975be1a776d939d098c647482bcad5cba

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs to install (see .dockerignore): no tests, no examples, no .venv.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/tinysquid && /opt/tinysquid/bin/pip install . && /opt/tinysquid/bin/tinysquid --version
RUN rm -rf /build && useradd --uid 10001 --user-group --no-create-home --home-dir /tmp --shell /usr/sbin/nologin tinysquid

ENV PATH=/opt/tinysquid/bin:$PATH \
    HOME=/tmp
WORKDIR /tmp
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
ENTRYPOINT ["tinysquid"]
CMD ["--help"]
