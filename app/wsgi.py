"""gunicorn entry point: `gunicorn -c deploy/gunicorn.conf.py app.wsgi:app` (each worker loads models)."""
from app import create_app

app = create_app()
