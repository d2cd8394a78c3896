"""The request class that streams uploaded files into storage's temp folder.

Werkzeug asks ``Request._get_file_stream`` for a writable stream for every file part of a
multipart body, writes the part into it, seeks it to 0 and wraps it in a FileStorage. Here
that stream is an IncomingFile from the storage, so uploads never sit in memory or in the
system's /tmp, and their SHA-256 is known when parsing ends. Flask calls ``Request.close``
when the request context pops, after errors too: every temp file not placed into storage by
then is removed, so a failed request leaves no half file behind.
"""
from __future__ import annotations

import logging
from typing import IO

from flask import Request

from .services.storage import IncomingFile, get_storage


class UploadRequest(Request):
    """A Flask request whose uploaded files are IncomingFiles in the storage's temp folder."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        incoming = get_storage().new_temp(filename)
        self.__dict__.setdefault("_lms_incoming", []).append(incoming)
        return incoming  # type: ignore[return-value]

    @property
    def incoming_files(self) -> list[IncomingFile]:
        """The temp files this request created, placed or not."""
        return self.__dict__.get("_lms_incoming", [])

    def close(self) -> None:
        """Close the uploaded files and remove those that were not put into storage."""
        try:
            super().close()
        finally:
            for incoming in self.incoming_files:
                try:
                    incoming.discard()
                except OSError:  # one failure must not keep the other temp files around
                    logging.getLogger(__name__).exception("could not remove %s", incoming.path)
