"""Upload checks: names, extensions, sizes, content signatures and hostile zip archives."""
from __future__ import annotations

import io
import os
import stat
import struct
import zipfile

import pytest

from lms.services.filecheck import FileRejected, check_file, safe_filename

ALLOWED = [".zip", ".pdf", ".png", ".md", ".docx", ".tar.gz", ".webp", ".jpg"]
MB = 1024 * 1024
PE_HEADER = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20


def write(tmp_path, data: bytes, name: str = "upload.bin") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def make_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def rejected(tmp_path, data: bytes, filename: str, allowed=ALLOWED, max_bytes=50 * MB) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        check_file(write(tmp_path, data), filename, allowed, max_bytes, len(data))
    assert filename in str(caught.value.message)
    return caught.value


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("C:\\x\\报告.pdf", "报告.pdf"),
    ("re\x00po\x1brt\u202egpj.exe", "reportgpj.exe"),
    ("...hidden.md", "hidden.md"),
    ("", "file"),
    ("..", "file"),
    ("/tmp/", "file"),
    ("e\u0301cole.md", "\u00e9cole.md"),
])
def test_safe_filename(name, expected):
    """Only the base name is kept, in NFC, without control characters or leading dots, never empty."""
    assert safe_filename(name) == expected


def test_safe_filename_shortens_long_names_but_keeps_the_extension():
    """Names longer than 200 characters are cut before the extension, .tar.gz included."""
    assert safe_filename("项" * 300 + ".pdf") == "项" * 196 + ".pdf"
    assert safe_filename("a" * 300 + ".tar.gz") == "a" * 193 + ".tar.gz"


@pytest.mark.parametrize("data, filename", [
    (make_zip([("src/main.py", b"print('hi')\n"), ("README.md", b"# hi\n")]), "project.zip"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "report.PDF"),
    (PNG, "diagram.png"),
    ("# 报告\n\n冷链物流的温度监控。\n".encode(), "报告.md"),
    ("\ufeff# BOM first\n".encode(), "notes.md"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "code.tar.gz"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "photo.webp"),
    (b"MZ Industries quarterly notes\n", "mz.md"),
])
def test_valid_files_pass(tmp_path, data, filename):
    """Files whose content matches their (allowed) extension are accepted."""
    check_file(write(tmp_path, data), filename, ALLOWED, 50 * MB, len(data))


def test_wrong_extension_is_refused_with_the_allowed_list(tmp_path):
    """An extension not in the list is refused, and the message names what is allowed."""
    error = rejected(tmp_path, b"hello", "notes.txt", allowed=[".pdf", "zip"])
    assert error.code == "extension" and ".pdf, .zip" in str(error.message)


def test_empty_and_oversize_files_are_refused(tmp_path):
    """A 0-byte file and a file over the limit are refused with their own codes."""
    assert rejected(tmp_path, b"", "empty.md").code == "empty"
    error = rejected(tmp_path, b"x" * (MB + 1), "big.md", max_bytes=MB)
    assert error.code == "too_large" and "1 MiB" in str(error.message)


@pytest.mark.parametrize("filename", ["report.pdf", "report.zip", "report.md", "report.png"])
def test_a_renamed_executable_is_refused(tmp_path, filename):
    """Windows or Linux programs renamed to a document type are refused."""
    assert rejected(tmp_path, PE_HEADER, filename).code == "content"
    assert rejected(tmp_path, b"\x7fELF\x02\x01\x01" + b"\x00" * 60, filename).code == "content"


def test_an_executable_passes_when_its_extension_is_allowed(tmp_path):
    """A mentor who lists .exe gets .exe files."""
    check_file(write(tmp_path, PE_HEADER), "tool.exe", [".exe"], MB, len(PE_HEADER))


@pytest.mark.parametrize("data, filename", [
    (b"%PDF-1.4", "picture.png"),
    (PNG, "report.pdf"),
    (b"plain text", "project.zip"),
    (b"\xff\xfe\x00\x00binary", "notes.md"),
    (b"caf\xe9 latin-1", "notes.md"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "photo.webp"),
])
def test_content_of_another_type_is_refused(tmp_path, data, filename):
    """Signatures must match; text must be UTF-8 without NUL bytes."""
    assert rejected(tmp_path, data, filename).code == "content"


@pytest.mark.parametrize("entry", ["../evil.txt", "/etc/passwd", "..\\evil", "a/../../evil", "C:\\win.ini"])
def test_zip_entries_that_leave_the_archive_are_refused(tmp_path, entry):
    """Absolute paths, drive letters and .. parts (zip slip) are refused, naming the entry."""
    error = rejected(tmp_path, make_zip([("ok.txt", b"ok"), (entry, b"evil")]), "project.zip")
    assert error.code == "zip_traversal" and entry in str(error.message)


def test_zip_symlinks_are_refused(tmp_path):
    """An entry that is a symbolic link (it could point anywhere once unpacked) is refused."""
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert rejected(tmp_path, make_zip([(link, b"/etc/passwd")]), "project.zip").code == "zip_symlink"


def test_a_zip_bomb_is_refused(tmp_path):
    """An entry of 50 MiB of zeros (ratio ~1000:1) is refused before anything is unpacked."""
    data = make_zip([("zeros.bin", b"\x00" * (50 * MB))])
    assert len(data) < MB
    assert rejected(tmp_path, data, "project.zip").code == "zip_bomb"


def test_too_many_entries_are_refused(tmp_path):
    """More than 10,000 entries are refused from the end record, before zipfile reads them all."""
    data = make_zip([(f"f{i}", b"") for i in range(10_001)], zipfile.ZIP_STORED)
    error = rejected(tmp_path, data, "project.zip")
    assert error.code == "zip_bomb" and "10000" in str(error.message)


def test_a_lying_size_header_is_caught_while_unpacking(tmp_path):
    """An entry declaring fewer bytes than it holds fails the stream check, not the memory."""
    data = bytearray(make_zip([("data.txt", b"a" * 100_000)]))
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<L", data, central + 24, 1000)  # uncompressed size in the central directory
    assert rejected(tmp_path, bytes(data), "project.zip").code in ("zip_corrupt", "zip_bomb")


def test_a_corrupt_zip_is_refused(tmp_path):
    """A truncated archive, or one whose data fails its CRC, is refused as corrupt."""
    good = make_zip([("a.txt", b"hello " * 1000)], zipfile.ZIP_STORED)
    assert rejected(tmp_path, good[:200], "project.zip").code == "zip_corrupt"
    flipped = bytearray(good)
    flipped[100] ^= 0xFF
    assert rejected(tmp_path, bytes(flipped), "project.zip").code == "zip_corrupt"


def test_docx_is_checked_as_a_zip(tmp_path):
    """Office files are zips too: a .docx with a traversal entry is refused."""
    data = make_zip([("word/document.xml", b"<w/>"), ("../../x", b"")])
    assert rejected(tmp_path, data, "essay.docx").code == "zip_traversal"


def test_memory_stays_small_for_a_large_valid_zip(tmp_path):
    """A 30 MiB entry (within limits) is streamed, never read whole."""
    import tracemalloc

    data = make_zip([("big.bin", os.urandom(30 * MB))], zipfile.ZIP_STORED)
    path = write(tmp_path, data)
    del data
    tracemalloc.start()
    check_file(path, "big.zip", ALLOWED, 100 * MB, os.path.getsize(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * MB
