"""Editing content/ in the browser: every save writes the file and commits it, then syncs.

``content/`` stays the single source of truth: the editor reads the files as they are on disk,
refuses to save over a file that changed since it was opened, writes only paths built from
valid slugs, commits only those paths (with the mentor as author) and imports the result with
the same sync as ``flask content sync``.
"""
from .assets import IMAGE_EXTENSIONS, AssetRejected, asset_name, check_image
from .documents import compose, front_matter, problems, read_document
from .files import BadPath, content_hash, valid_slug
from .items import (KINDS, AssetExists, Opened, SlugTaken, assets_on_disk, assignments_on_disk, lessons_on_disk,
                    listing_hash, open_document, save_asset, save_document, save_order, slug_taken)
from .save import Busy, CommitFailed, Conflict, EditError, Invalid, Saved

__all__ = [
    "IMAGE_EXTENSIONS", "KINDS", "AssetExists", "AssetRejected", "BadPath", "Busy", "CommitFailed", "Conflict",
    "EditError", "Invalid", "Opened", "Saved", "SlugTaken", "asset_name", "check_image", "compose",
    "assets_on_disk", "assignments_on_disk", "content_hash", "front_matter", "lessons_on_disk", "slug_taken", "listing_hash", "open_document", "problems", "read_document", "save_asset",
    "save_document", "save_order", "valid_slug",
]
