# Multi-stage: build a virtualenv, then copy only it into a slim runtime image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY calserver ./calserver
COPY storage ./storage
COPY feeds ./feeds
COPY web ./web
RUN python -m venv /opt/calserver \
 && /opt/calserver/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/calserver calserver \
 && mkdir -p /var/lib/calserver \
 && chown calserver /var/lib/calserver
COPY --from=build /opt/calserver /opt/calserver
# The port is set here, not as a flag, so the health check can follow it: -e CALSERVER_PORT=9000.
ENV PATH=/opt/calserver/bin:$PATH \
    CALSERVER_DATA_DIR=/var/lib/calserver \
    CALSERVER_PORT=8080 \
    PYTHONUNBUFFERED=1
USER calserver
# The SQLite database and the signing secret live here: keep it across upgrades.
VOLUME /var/lib/calserver
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['CALSERVER_PORT'] + '/healthz', timeout=4)"]
# Inside a container the server must listen on all interfaces; outside, the default is 127.0.0.1.
CMD ["calserver", "serve", "--host", "0.0.0.0"]
