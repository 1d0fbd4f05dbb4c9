# costlab image: CLI, CronJob pipeline, dashboard and exporter. Build from the repo root:
#   docker build -t ghcr.io/costlab/costlab:0.1.0 .
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# dependencies first (cached layer), exactly as locked, without the dev group
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY costlab ./costlab
COPY sql ./sql
COPY dashboards ./dashboards
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
RUN groupadd --gid 10001 costlab && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin costlab
WORKDIR /app
COPY --from=build --chown=10001:10001 /app /app
ENV PATH=/app/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp COSTLAB_DB=/data/costlab.duckdb
USER 10001:10001
VOLUME ["/data"]
# dashboard and exporter listen on 127.0.0.1 unless told: `docker run -p 8501:8501 IMAGE dashboard
# --address 0.0.0.0` (deploy/base does the same)
EXPOSE 8501 9108
ENTRYPOINT ["costlab"]
CMD ["--help"]
