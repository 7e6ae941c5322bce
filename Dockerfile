FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ATOM_DATABASE_URL=sqlite+aiosqlite:////data/atom.db \
    ATOM_PORT=3000

RUN useradd --create-home --uid 10001 atom && mkdir /data && chown atom:atom /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir .

USER atom
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ATOM_PORT', '3000'), timeout=4)"
CMD ["atom", "run"]
