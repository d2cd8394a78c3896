"""Images uploaded through the editor: which names and which content are accepted.

Only raster images are accepted (PNG, JPEG, GIF, WebP), recognised by their content, not by
their name. SVG is refused because it can carry scripts; names with two extensions
(``a.png.html``) are refused because some servers and tools act on the inner one.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from .. import filecheck

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp")
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.(?:png|jpg|jpeg|gif|webp)$")
MAX_NAME = 100


class AssetRejected(ValueError):
    """An upload that is refused; ``message`` is shown to the mentor."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def check_asset_name(name: str) -> str:
    """``name`` when it is an acceptable asset file name, else raise (a BadPath for paths)."""
    from .files import BadPath

    if not isinstance(name, str) or len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
        raise BadPath(f"not an image file name: {name!r}")
    return name


def asset_name(raw: str) -> str:
    """The file name to store an upload under: lower case, words joined by hyphens, one image
    extension. Raises AssetRejected with the reason when no acceptable name can be made."""
    if "/" in (raw or "") or "\\" in (raw or ""):
        raise AssetRejected(_l("A file name cannot contain folders; name it like diagram.png."))
    name = filecheck.safe_filename(raw or "").lower()
    stem, dot, ext = name.rpartition(".")
    if dot and ext == "svg":
        raise AssetRejected(_l("SVG images are not accepted, because they can contain scripts. "
                               "Export the drawing as PNG or WebP."))
    if not dot or not stem or f".{ext}" not in IMAGE_EXTENSIONS:
        raise AssetRejected(_l("%(name)s is not an image of an accepted type (PNG, JPEG, GIF or WebP).", name=name))
    if "." in stem:
        raise AssetRejected(_l("%(name)s has more than one extension; name it like diagram.png.", name=name))
    stem = re.sub(r"[\s_]+", "-", stem.strip())
    candidate = f"{stem}.{ext}"
    if len(candidate) > MAX_NAME or not NAME_RE.fullmatch(candidate):
        raise AssetRejected(_l("Name the file with lower-case letters a–z, digits and hyphens, "
                               "for example cold-room-layout.png."))
    return candidate


def check_image(path: str, name: str, size: int, max_mb: int) -> None:
    """Accept the uploaded file at ``path`` as image ``name`` or raise AssetRejected: its content
    must be of its extension's type (magic bytes), not empty and at most ``max_mb`` MiB."""
    try:
        filecheck.check_file(path, name, list(IMAGE_EXTENSIONS), max_mb * 1024 * 1024, size)
    except filecheck.FileRejected as exc:
        raise AssetRejected(exc.message) from None
