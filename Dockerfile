# The Signalfire worker image (used by docker-compose.yml and deploy/k8s).
FROM python:3.11.10-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY signalfire ./signalfire
COPY streams ./streams
COPY alerting ./alerting
COPY rules ./rules
RUN pip install --no-cache-dir . && useradd --uid 10001 signalfire
USER signalfire
ENV SIGNALFIRE_RULES=/app/rules SIGNALFIRE_WEB_HOST=0.0.0.0 SIGNALFIRE_WEB_PORT=6066
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["signalfire"]
CMD ["worker"]
