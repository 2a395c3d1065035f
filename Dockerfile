# toggl-groups-mcp in a container: the stdio server by default, the team server with
# `--transport http`. Built from the repository root:
#
#   docker build -t toggl-groups-mcp .
#
# The stdio server, as an MCP host starts it (-i keeps stdin open: it is the MCP wire):
#
#   docker run -i --rm -e TOGGL_API_TOKEN -v toggl-groups-mcp-journal:/data toggl-groups-mcp
#   docker run -i --rm toggl-groups-mcp --sandbox          # the embedded sandbox, no token
#
# The team server (examples/team/compose.yaml runs this with Redis and four workers): streamable
# HTTP on every interface of the container, which needs TOGGL_MCP_HTTP_TOKEN:
#
#   docker run --rm -p 8000:8000 -e TOGGL_MCP_HTTP_TOKEN -e TOGGL_MCP_PER_USER_TOKENS=1 \
#     -e TOGGL_MCP_ALLOWED_HOSTS=team-host -v toggl-groups-mcp-journal:/data \
#     toggl-groups-mcp --transport http --host 0.0.0.0 --port 8000
#
# .dockerignore beside this file sends only what the build needs (never .git, .venv or secrets).

# -- build: the wheel, from the sources (hatchling comes from PyPI in pip's isolated build) ------
FROM python:3.12-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY prompts/ prompts/
COPY toggl_groups_mcp/ toggl_groups_mcp/
RUN pip wheel --no-deps --wheel-dir /wheels .

# -- run: the installed package only, no sources, no build tools -------------------------------
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The change journal (list_changes, undo_change; one file per user with per-user tokens) lives in
# the user's state folder, /data/toggl-groups-mcp/journal.jsonl here, on the volume below so that
# it outlives the container. Not TOGGL_MCP_JOURNAL: a journal named there is used by --sandbox too,
# and the sandbox's simulated changes must never sit in the journal that undoes real ones (without
# it, --sandbox keeps a temporary journal of its own, as everywhere else).
ENV XDG_STATE_HOME=/data

# The MCP Registry checks that an OCI image belongs to the server it is listed under by this label.
LABEL io.modelcontextprotocol.server.name="io.github.toggl-groups-mcp/toggl-groups-mcp" \
      org.opencontainers.image.title="toggl-groups-mcp" \
      org.opencontainers.image.description="MCP server that manages Toggl Track groups and project groups safely" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/toggl-groups-mcp/toggl-groups-mcp"

# The `redis` extra brings the client for rate limits shared by every worker (TOGGL_MCP_REDIS_URL);
# `oauth` brings cryptography, which seals the grants of remote connectors (TOGGL_MCP_OAUTH).
COPY --from=build /wheels /wheels
RUN set -eu; wheel=$(ls /wheels/toggl_groups_mcp-*.whl); pip install "${wheel}[redis,oauth]"; rm -rf /wheels

# No root at run time. /data is made here, owned by the server's user (and writable by it alone:
# the server refuses a journal folder others can write), so a named volume mounted on it starts
# writable. A bind mount must be writable by uid 10001.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin toggl \
    && mkdir /data \
    && chown toggl /data \
    && chmod 0700 /data
USER 10001
WORKDIR /data
VOLUME ["/data"]

# Only for `--transport http --host 0.0.0.0 --port 8000`; the stdio server listens on nothing.
EXPOSE 8000
# No HEALTHCHECK: the default command is the stdio server, which has no port to probe, and a
# probe that fails there would mark every stdio container unhealthy.
ENTRYPOINT ["toggl-groups-mcp"]
CMD []
