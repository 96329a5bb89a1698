# The Signalfire worker image (used by docker-compose.yml and deploy/k8s).
# Stage 1 builds the wheel, compiled core included (Rust: cargo from the rust image); the
# runtime image gets only the wheel, no toolchain.
FROM rust:1.95.0-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir "maturin>=1.16,<2"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY signalfire ./signalfire
COPY streams ./streams
COPY alerting ./alerting
RUN /opt/build/bin/maturin build --release --locked --out /wheels

FROM python:3.11.10-slim-bookworm
WORKDIR /app
COPY --from=build /wheels /wheels
COPY rules ./rules
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels && useradd --uid 10001 signalfire
USER signalfire
ENV SIGNALFIRE_RULES=/app/rules SIGNALFIRE_WEB_HOST=0.0.0.0 SIGNALFIRE_WEB_PORT=6066
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["signalfire"]
CMD ["worker"]
