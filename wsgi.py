"""The WSGI entry point: ``gunicorn wsgi:app``; ``flask`` finds it by itself."""
from lms import create_app

app = create_app()
