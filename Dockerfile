# A pinned base: the same Python and Debian on every build. Renew the tag deliberately (and add its
# @sha256 digest where the registry can be checked) rather than following a moving `3.11-slim`.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ATOM_DATABASE_URL=sqlite+aiosqlite:////data/atom.db \
    ATOM_PORT=3000

RUN useradd --create-home --uid 10001 atom && mkdir /data && chown atom:atom /data && chmod 0700 /data
WORKDIR /app

# Dependencies in their own layer, from pyproject.toml alone: a change to bot/ reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then Atom itself, without touching the dependencies installed above.
COPY README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir --no-deps .

USER atom
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ATOM_PORT', '3000'), timeout=4)"
CMD ["atom", "run"]
