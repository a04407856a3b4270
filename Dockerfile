# syntax=docker/dockerfile:1
# Bridgedesk's production image. gunicorn serves the web app by default; the same image
# runs migrations, the Celery worker and beat with another command (docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app
# PYTHONPATH: `pip install .` also puts the packages into site-packages, but settings find
# templates/ and static/ beside config/, which only /app has, so /app must win.

WORKDIR /app

# Dependencies in a layer of their own, read from pyproject.toml, so that a code change
# does not reinstall them. Only the runtime ones: not the embedded or dev extras.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && python -m compileall -q config helpdesk projects liaison

# Hashed, compressed static files into /app/var/staticfiles (STATIC_ROOT's default),
# served by whitenoise. Settings need a database and broker URL to load; nothing connects.
RUN DEBUG=false \
    SECRET_KEY=build-only-not-a-secret-0000000000000000000000000000000000 \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

# The app runs as a user who cannot change its own code or static files; it writes only
# where compose mounts volumes (uploads, beat's schedule). Creating those folders here,
# owned by that user, makes Docker give a new named volume the same owner.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home bridgedesk \
    && mkdir -p var/media var/beat \
    && chown bridgedesk:bridgedesk var/media var/beat
USER bridgedesk

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "manage.py", "healthcheck", "web"]
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
