"""Command-line groups, registered on the app by the factory."""
from flask import Flask


def register_cli(app: Flask) -> None:
    from .audit import audit
    from .content import content
    from .dev import dev
    from .storage import storage
    from .users import users

    app.cli.add_command(audit)
    app.cli.add_command(content)
    app.cli.add_command(dev)
    app.cli.add_command(users)
    app.cli.add_command(storage)
