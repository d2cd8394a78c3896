"""The ceiling of the load benchmark: a minimal Flask app, served with the LMS's gunicorn settings.

    cd bench && gunicorn --config ../gunicorn.conf.py hello:app
"""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
