# The Bamrung API for docker-compose (the database is the postgis/postgis image).
FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY geo geo
COPY layers layers
COPY api api
COPY data data
RUN pip install --no-cache-dir -e . && useradd --create-home bamrung
USER bamrung
EXPOSE 8000
CMD ["bamrung", "serve", "--host", "0.0.0.0", "--port", "8000"]
