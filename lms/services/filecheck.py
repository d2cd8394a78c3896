"""Checks on uploaded files: name, extension, size, content type and, for zips, their entries.

``check_file`` reads only what it needs: the first bytes for a signature, text in chunks,
zip entries decompressed in chunks under a running cap, so memory stays constant whatever
the upload. It raises FileRejected with a message for the student and a short code.
"""
from __future__ import annotations

import codecs
import re
import struct
import unicodedata
import zipfile

from flask_babel import lazy_gettext as _l

CHUNK = 64 * 1024
HEAD = 512
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_TOTAL = 1024 ** 3  # declared, and actually decompressed, bytes of all entries
ZIP_MAX_RATIO = 200
ZIP_RATIO_MIN_SIZE = 10 * 1024 ** 2  # the ratio only matters for entries larger than this
ZIP_MAX_DIRECTORY = 8 * 1024 ** 2  # bytes of central directory zipfile would hold in memory

ZIP_FAMILY = {".zip", ".docx", ".xlsx", ".pptx", ".jar", ".odt", ".ods", ".odp", ".epub"}
GZIP = (b"\x1f\x8b",)
SIGNATURES = {
    **{ext: (b"PK\x03\x04", b"PK\x05\x06") for ext in ZIP_FAMILY},
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".gz": GZIP, ".tgz": GZIP, ".tar.gz": GZIP,
    ".bz2": (b"BZh",), ".tar.bz2": (b"BZh",),
    ".xz": (b"\xfd7zXZ\x00",), ".tar.xz": (b"\xfd7zXZ\x00",),
    ".7z": (b"7z\xbc\xaf\x27\x1c",),
}
TEXT = {".md", ".markdown", ".txt", ".csv", ".tsv", ".py", ".ipynb", ".json", ".sql", ".html", ".htm",
        ".css", ".js", ".mjs", ".ts", ".jsx", ".tsx", ".vue", ".java", ".kt", ".c", ".h", ".cpp", ".hpp",
        ".cc", ".cs", ".go", ".rs", ".rb", ".php", ".swift", ".scala", ".r", ".m", ".sh", ".bat", ".ps1",
        ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml", ".svg", ".tex", ".bib", ".rst", ".log"}
EXECUTABLE_EXTS = {".exe", ".dll", ".msi", ".com", ".sys", ".bin", ".elf", ".so", ".dylib", ".out",
                   ".class", ".app"}
EXECUTABLE_MAGIC = (b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                    b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
CONTROL = {"Cc", "Cf", "Cs"}  # control, format (e.g. right-to-left override), surrogate


class FileRejected(Exception):
    """An upload that is refused; ``message`` is shown to the student, ``code`` says why."""

    def __init__(self, message, code: str):
        super().__init__(str(message))
        self.message, self.code = message, code


def safe_filename(name: str) -> str:
    """A display- and storage-safe base name: no folders, no control characters, no leading dot,
    at most 200 characters with the extension kept, never empty. Keeps non-Latin letters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if unicodedata.category(c) not in CONTROL).strip().lstrip(".").strip()
    if len(name) > 200:
        ext = re.search(r"(\.tar)?\.[^.\s]{1,16}$", name, re.IGNORECASE)
        ext = ext.group(0) if ext else ""
        name = name[:200 - len(ext)].rstrip() + ext
    return name or "file"


def _extension(filename: str, allowed: list[str]) -> str | None:
    """The longest allowed extension the name ends with (``.tar.gz`` before ``.gz``)."""
    lower = filename.lower()
    normal = {e.lower() if e.startswith(".") else "." + e.lower() for e in allowed}
    found = [e for e in normal if lower.endswith(e) and len(lower) > len(e)]
    return max(found, key=len) if found else None


def _looks_executable(head: bytes) -> bool:
    # "MZ" alone could open a text file; a real DOS/PE header also has NUL bytes.
    return head.startswith(EXECUTABLE_MAGIC) or (head[:2] == b"MZ" and b"\x00" in head[2:64])


def _is_utf8_text(path: str) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                if b"\x00" in chunk:
                    return False
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _content_matches(path: str, ext: str, head: bytes) -> bool:
    if ext in TEXT:
        return _is_utf8_text(path)
    if ext == ".webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if ext == ".tar":
        return head[257:262] == b"ustar"
    return ext not in SIGNATURES or head.startswith(SIGNATURES[ext])


def check_file(path: str, filename: str, allowed: list[str], max_bytes: int, size: int) -> None:
    """Accept the file at ``path`` (uploaded as ``filename``, ``size`` bytes) or raise FileRejected.

    Refused: an extension not in ``allowed``; an empty file; more than ``max_bytes``; content
    that is not of the extension's type (signature, or UTF-8 without NUL bytes for text); an
    executable, unless its extension is allowed explicitly; for zip-based types, entries
    that leave the archive, symlinks, bombs and corrupt archives.
    """
    ext = _extension(filename, allowed)
    if ext is None:
        shown = ", ".join(sorted(e.lower() if e.startswith(".") else "." + e.lower() for e in allowed))
        raise FileRejected(_l("%(name)s: files of this type are not accepted here (allowed: %(allowed)s).",
                              name=filename, allowed=shown), "extension")
    if size <= 0:
        raise FileRejected(_l("%(name)s is empty.", name=filename), "empty")
    if size > max_bytes:
        mb = f"{max_bytes / 1024 ** 2:.1f}".removesuffix(".0")
        raise FileRejected(_l("%(name)s is larger than the limit of %(mb)s MiB.", name=filename, mb=mb),
                           "too_large")
    with open(path, "rb") as f:
        head = f.read(HEAD)
    if _looks_executable(head) and ext not in EXECUTABLE_EXTS:
        raise FileRejected(_l("%(name)s is a program, not a %(ext)s file; programs are not accepted.",
                              name=filename, ext=ext), "content")
    if not _content_matches(path, ext, head):
        raise FileRejected(_l("%(name)s does not look like a %(ext)s file; its content is of another type.",
                              name=filename, ext=ext), "content")
    if ext in ZIP_FAMILY:
        _check_zip(path, filename)


def _zip_directory(path: str) -> tuple[int, int] | None:
    """(entries, central directory bytes) from the end record, read before zipfile loads it all."""
    with open(path, "rb") as f:
        end = f.seek(0, 2)
        f.seek(max(0, end - 22 - 65535))
        tail = f.read()
        pos = tail.rfind(b"PK\x05\x06", 0, len(tail) - 18)  # a whole 22-byte record
        if pos < 0:
            return None
        entries, directory = struct.unpack_from("<10xHL", tail, pos)
        if entries == 0xFFFF or directory == 0xFFFFFFFF:  # Zip64: the real numbers are elsewhere
            if pos < 20 or tail[pos - 20:pos - 16] != b"PK\x06\x07":
                return None
            f.seek(struct.unpack_from("<Q", tail, pos - 12)[0])
            record = f.read(56)
            if len(record) < 56 or record[:4] != b"PK\x06\x06":
                return None
            entries, directory = struct.unpack_from("<32xQQ", record)
    return entries, directory


def _bomb(filename: str) -> FileRejected:
    return FileRejected(_l("%(name)s unpacks to far more data than it holds (a zip bomb); it is not accepted.",
                           name=filename), "zip_bomb")


def _corrupt(filename: str) -> FileRejected:
    return FileRejected(_l("%(name)s is damaged and cannot be opened as an archive.", name=filename),
                        "zip_corrupt")


def _check_entry_name(info: zipfile.ZipInfo, filename: str) -> None:
    entry = info.filename
    parts = entry.replace("\\", "/").split("/")
    if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry) or ".." in parts:
        raise FileRejected(_l("%(name)s contains a path that leaves the archive (%(entry)s).",
                              name=filename, entry=entry), "zip_traversal")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise FileRejected(_l("%(name)s contains a symbolic link (%(entry)s); links are not accepted.",
                              name=filename, entry=entry), "zip_symlink")


def _check_zip(path: str, filename: str) -> None:
    directory = _zip_directory(path)
    if directory and (directory[0] > ZIP_MAX_ENTRIES or directory[1] > ZIP_MAX_DIRECTORY):
        raise FileRejected(_l("%(name)s holds more than %(count)d files.", name=filename,
                              count=ZIP_MAX_ENTRIES), "zip_bomb")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > ZIP_MAX_ENTRIES:
                raise FileRejected(_l("%(name)s holds more than %(count)d files.", name=filename,
                                      count=ZIP_MAX_ENTRIES), "zip_bomb")
            for info in infos:
                _check_entry_name(info, filename)
                if info.flag_bits & 0x1:
                    raise FileRejected(_l("%(name)s is password-protected, so its content cannot be checked.",
                                          name=filename), "zip_corrupt")
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > ZIP_MAX_RATIO and info.file_size > ZIP_RATIO_MIN_SIZE:
                    raise _bomb(filename)
            if sum(info.file_size for info in infos) > ZIP_MAX_TOTAL:
                raise _bomb(filename)
            total = 0
            for info in infos:
                if info.is_dir():
                    continue
                read = 0
                with archive.open(info) as entry:
                    while chunk := entry.read(CHUNK):
                        read += len(chunk)
                        total += len(chunk)
                        if read > info.file_size or total > ZIP_MAX_TOTAL:  # a header that lies
                            raise _bomb(filename)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError, struct.error):
        raise _corrupt(filename) from None
