# TOT dispatch engine image.
#
#   docker build -t tot-engine .
#   docker run --rm tot-engine                                   # demo route (see CMD)
#   docker run --rm tot-engine route --from 60.1710,24.9414 --to 60.1673,24.9534 --json
#
# Two stages from the same base: the builder installs the project and its pinned
# dependencies into /opt/venv; the runtime copies only that venv and the bundled map.
# Every dependency ships a manylinux wheel, so neither stage needs a compiler.
# bookworm (glibc 2.36) is named explicitly: routingkit-cch's wheel is manylinux_2_34.

############################ builder ############################
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY accounts ./accounts
COPY dispatch_core ./dispatch_core
COPY matching ./matching
COPY routing ./routing
COPY simulation ./simulation
COPY realtime_gateway ./realtime_gateway
COPY api ./api
COPY storage ./storage
COPY services ./services
COPY tot ./tot

# Non-editable install (into site-packages) with the same pins as scripts/lib.sh.
# --only-binary: fail loudly rather than try to compile an sdist on a slim image
# (the project itself is still built from source: it is named by path, not by name).
# (No import check here: from /src it would import the sources, not the install, and
# osmium needs libexpat, which only the runtime stage installs. The runtime checks.)
RUN pip install --upgrade pip \
 && pip install --only-binary=:all: -c requirements.lock .

############################ runtime ############################
FROM python:3.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="TOT dispatch engine" \
      org.opencontainers.image.description="TOT (Твоя Точка Опоры): real-time dispatch of doctors to patients' homes, on real OpenStreetMap roads. Bundled map data © OpenStreetMap contributors, ODbL 1.0." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm" \
      tot.map-data.attribution="Map data © OpenStreetMap contributors" \
      tot.map-data.license="ODbL-1.0 https://opendatacommons.org/licenses/odbl/1-0/ (see /app/data/osm/ATTRIBUTION.md)"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:$PATH" \
    TOT_OSM_PATH=/app/data/osm/nizhny_novgorod_center.osm.pbf \
    TOT_GRAPH_CACHE_DIR=/var/cache/tot/graphs

# osmium's compiled modules link the system libexpat and zlib (every other native
# library is bundled in its wheel). zlib is part of every Debian image; libexpat1 is
# not guaranteed in the slim one, so both are named here (a no-op when present).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libexpat1 zlib1g \
 && rm -rf /var/lib/apt/lists/*

# Fixed uid/gid so bind mounts and volumes get predictable ownership.
RUN groupadd --gid 10001 tot \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin tot \
 && mkdir -p /var/cache/tot/graphs \
 && chown -R tot:tot /var/cache/tot

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The bundled extracts (central Nizhny Novgorod, the default; Helsinki, the tests') and
# their attribution (ODbL requires the latter to travel with the data).
# tot/settings.py's default (BUNDLED_OSM_PATH) is computed relative to
# the installed package, which is in site-packages here, so TOT_OSM_PATH above points
# at this copy instead.
COPY data/osm /app/data/osm

USER tot

# Compile the road graph now, as the user that will read it, so a container starts by
# loading the cache (well under a second) instead of building it. The cache key is the
# extract's content plus the build rules, so it is reused as long as both are unchanged.
RUN python -c "import routingkit_cch, osmium" \
 && tot graph build

ENTRYPOINT ["tot"]
# The engine: HTTP API and pages on 8000, WebSockets on 8001. `tot demo` instead runs it
# with a simulated city.
EXPOSE 8000 8001
ENV TOT_HOST=0.0.0.0
CMD ["serve"]
