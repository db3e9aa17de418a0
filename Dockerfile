# smsradar: one image for every part (receiver, worker, sink, dashboard, sql, simulate).
# docker-compose.yml builds it; `docker build -t smsradar .` alone works too.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first (changes rarely), so code edits rebuild only the last layers.
COPY pyproject.toml README.md ./
RUN mkdir smsradar receiver streams analytics dashboards \
    && pip install . \
    && pip uninstall --yes smsradar
COPY smsradar ./smsradar
COPY receiver ./receiver
COPY streams ./streams
COPY analytics ./analytics
COPY dashboards ./dashboards
RUN pip install --no-deps . && rm -rf /src/build

# Never root: the analytics store (/data) and worker state belong to this user.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin smsradar \
    && mkdir -p /data /home/smsradar/state \
    && chown smsradar:smsradar /data /home/smsradar/state
USER smsradar
WORKDIR /home/smsradar
ENV SMSRADAR_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080 8501

CMD ["smsradar", "--help"]
