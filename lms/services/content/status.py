"""The outcome of the last sync on this server, failures included (a file in the instance folder).

Failed syncs write nothing to the database (a sync is all or nothing), so their errors are
kept here for the admin page; successful syncs that changed something are also SyncRun rows.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

STATUS_FILE = "last-sync.json"


def write_status(instance_path: str, root: Path, ok: bool, summary: dict, errors: list) -> None:
    """Replace the status file atomically; it records the content's git commit when there is one."""
    from .gitinfo import head_commit, work_tree

    top = work_tree(root)
    status = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), "source_dir": str(root),
              "commit": head_commit(top) if top else None,
              "ok": ok, "summary": summary, "errors": [str(e) for e in errors]}
    target = Path(instance_path) / STATUS_FILE
    tmp = target.with_name(f".{STATUS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, target)


def read_status(instance_path: str) -> dict | None:
    """The last status written on this server, or None."""
    try:
        return json.loads((Path(instance_path) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
