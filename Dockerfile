# The image of the worker and the API (deploy/OPERATIONS.md): `pathway worker`, `pathway api`, `pathway setup`.
# Build from the repository root: docker build -t pathway:0.1.0 .

# The NHS.UK frontend the web pages serve, at the version package-lock.json pins.
FROM node:22-bookworm-slim AS frontend
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATHWAY_DATA_DIR=/var/lib/pathway \
    PATHWAY_LOG_FORMAT=json
RUN useradd --system --uid 10001 --home-dir /var/lib/pathway --create-home pathway
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY service service
COPY workers workers
COPY store store
COPY cli cli
COPY api api
# Installed in place (editable): the web pages find the frontend at node_modules/ beside the packages.
# Bytecode compiled now, as the image cannot write it at run time: the workflow sandbox imports each
# workflow's module afresh for every workflow it starts, and without a .pyc compiles it each time.
RUN pip install -e . && python -c "import cli.main" && python -m compileall -q domain workflows activities service workers store cli api
COPY --from=frontend /app/node_modules/nhsuk-frontend node_modules/nhsuk-frontend
USER pathway
# The API and web inbox; the worker's /healthz, /readyz and /metrics (PATHWAY_HEALTH_PORT).
EXPOSE 8000 8081
ENTRYPOINT ["pathway"]
CMD ["worker"]
