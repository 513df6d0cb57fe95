# syntax=docker/dockerfile:1
#
# Ikou's Airflow image, used by every Airflow service of docker-compose.yml (api-server, scheduler,
# dag-processor, triggerer, Celery workers, init).
#
# Base: the official Airflow image whose tag carries the same Airflow version as the
# `apache-airflow==` pin in requirements.txt and Python 3.11 (tests/unit/test_compose.py checks
# both). It brings the entrypoint (waits for the metadata DB and the broker, accepts
# `airflow <command>`), dumb-init for signal propagation, curl for health checks and the
# `airflow` user (uid 50000, gid 0; any uid with gid 0 works).
#
# Python environment: exactly the lock. requirements.txt pins every transitive package, so it
# is installed with --no-deps and without constraints (it IS the constraint); the providers and
# libraries the base image ships beyond the lock are then removed (docker/lock.py prune), and the
# build fails unless the environment equals the lock (docker/lock.py check). The build reaches
# the package index; containers never download anything at run time.
#
# Data Docs' browser assets (include/ikou/quality/offline.py): GX's pages load Bootstrap, jQuery,
# Vega … from public CDNs, which a closed network does not reach. The `datadocs` stage installs
# the npm packages exactly as vendor/datadocs/package-lock.json pins them (npm ci, no install
# scripts); the final stage collects the files GX's templates name, with their licences, into
# /opt/airflow/datadocs-vendor (IKOU_DATADOCS_ASSETS: outside ./include, which the compose file
# mounts). node_modules itself never reaches the image.
FROM node:20-bookworm-slim AS datadocs
WORKDIR /datadocs
COPY vendor/datadocs/package.json vendor/datadocs/package-lock.json vendor/datadocs/.npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM apache/airflow:3.3.2-python3.11 AS ikou

ENV IKOU_HOME=/opt/airflow/ikou \
    IKOU_GX_ROOT=/opt/airflow/great_expectations \
    GX_ANALYTICS_ENABLED=false \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Folders that the compose file turns into named volumes: a fresh volume copies ownership and
# mode from the image, so they must be writable by the airflow user and by group 0.
USER root
RUN mkdir -p /opt/airflow/ikou /opt/airflow/logs /opt/airflow/auth \
 && chown -R airflow:0 /opt/airflow/ikou /opt/airflow/logs /opt/airflow/auth \
 && chmod -R g+rwX /opt/airflow/ikou /opt/airflow/logs /opt/airflow/auth
USER airflow
WORKDIR /opt/airflow

# 1. The lock, and nothing else (this layer changes only when the lock does).
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
COPY --chown=airflow:0 docker/lock.py /opt/airflow/docker/lock.py
RUN pip install --no-deps -r /opt/airflow/requirements.txt \
 && python /opt/airflow/docker/lock.py prune /opt/airflow/requirements.txt

# 2. Ikou itself: the package `ikou` lives in include/ (pyproject.toml), installed editable like
#    `make` does, so the ./include bind mount of the compose file is the code that runs. setuptools
#    comes from the lock (--no-build-isolation: nothing is fetched to build it). The registry is
#    loaded once as a smoke test: a broken domain file fails the build, not the first task.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/pyproject.toml
COPY --chown=airflow:0 include/ /opt/airflow/include/
RUN pip install --no-deps --no-build-isolation -e /opt/airflow \
 && python /opt/airflow/docker/lock.py check /opt/airflow/requirements.txt \
 && ikou registry >/dev/null

# 2b. The Data Docs assets, collected from the datadocs stage's node_modules (bind-mounted for
#     this step only). A GX template asking for a library the lock does not pin fails the build.
ENV IKOU_DATADOCS_ASSETS=/opt/airflow/datadocs-vendor
RUN --mount=type=bind,from=datadocs,source=/datadocs/node_modules,target=/tmp/datadocs/node_modules \
    python -m ikou.quality.offline collect --node-modules /tmp/datadocs/node_modules \
      --out /opt/airflow/datadocs-vendor

# 3. What Airflow and the gates read. The compose file mounts the working tree over these for
#    development; without the mounts the image runs on its own (e.g. on a cluster).
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 great_expectations/ /opt/airflow/great_expectations/
