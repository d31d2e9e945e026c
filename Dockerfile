# syntax=docker/dockerfile:1
# The decision service: `policy-engine serve` on a slim Python, as a non-root user, with a
# HEALTHCHECK on /readyz. docs/deploy.md explains the choices; tests/packaging/test_container.py
# checks this file's structure and runs its CMD and HEALTHCHECK against a real server.
#
#   docker build -t policy-engine .
#   docker run -p 8181:8181 policy-engine
#   docker run -p 8181:8181 -v "$PWD/policies:/policies:ro" policy-engine \
#       policy-engine serve /policies/open_e.policy --host 0.0.0.0 --watch

# --- build: the project's wheel and the [server] extra's wheels, so the final image needs no compiler
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY grammar/ grammar/
COPY policy_engine/ policy_engine/
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[server]'

# --- run
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_STATE_HOME=/data
RUN groupadd --system --gid 10001 policy-engine \
    && useradd --system --uid 10001 --gid policy-engine --home-dir /home/policy-engine --create-home policy-engine \
    && mkdir -p /data/policy-engine /policies \
    && chown -R policy-engine:policy-engine /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'policy-engine[server]' && rm -rf /wheels
# A policy to start with; mount your own folder over /policies (read-only is enough).
COPY policies/open_e.policy /policies/policy.policy
# The decision log (SQLite, WAL) lives in /data/policy-engine/decisions.sqlite3: keep it on a volume.
VOLUME ["/data"]
USER policy-engine:policy-engine
WORKDIR /home/policy-engine
EXPOSE 8181
# `policy-engine health` asks /readyz (200 once the policy is loaded and the decision log is
# written; 503 or no answer otherwise). It reads the port and TLS settings as serve does
# (POLICY_ENGINE_PORT, POLICY_ENGINE_SSL_CERTFILE, --config via POLICY_ENGINE_CONFIG): set them
# by the environment, and the probe follows (docs/deploy.md, "TLS").
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["policy-engine", "health", "--quiet"]
STOPSIGNAL SIGTERM
# Exec form: serve is PID 1 and receives SIGTERM itself (it drains requests for up to
# --shutdown-timeout, 30 s, and flushes the log). Every other option can come from a
# POLICY_ENGINE_* variable (`docker run -e POLICY_ENGINE_LOG_FORMAT=json ...`) or --config FILE.
CMD ["policy-engine", "serve", "/policies/policy.policy", "--host", "0.0.0.0", "--port", "8181"]
