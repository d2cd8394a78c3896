"""The content pipeline: read ``content/``, validate it, render it and import it."""
from .errors import ContentError  # noqa: F401
from .sync import CheckResult, SyncResult, check_tree, sync_tree  # noqa: F401
