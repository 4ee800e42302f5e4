FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN SECRET_KEY=build python manage.py collectstatic --noinput >/dev/null

RUN useradd --create-home bxb && mkdir -p /app/media && chown -R bxb /app/media
USER bxb

EXPOSE 8000
# Workers, bind address and logs: gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_BIND, GUNICORN_ACCESS_LOG).
CMD ["gunicorn", "billing_project.wsgi:application"]
