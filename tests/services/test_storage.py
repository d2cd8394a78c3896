"""Content-addressed upload storage: hashing while streaming, atomic placement, verify, gc, uploads."""
from __future__ import annotations

import hashlib
import io
import os
import time

import pytest
from flask import jsonify, request

from lms import create_app
from lms.services import storage as store
from lms.services.storage import FileMissing, IncomingFile, LocalStorage, StoredFile
from lms.uploads import UploadRequest

OLD = time.time() - 2 * 3600


@pytest.fixture
def local(tmp_path) -> LocalStorage:
    return LocalStorage(str(tmp_path / "uploads"))


def put_bytes(storage: LocalStorage, data: bytes) -> StoredFile:
    incoming = storage.new_temp("x.bin")
    incoming.write(data)
    return storage.put(incoming)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def temp_files(storage: LocalStorage) -> list[str]:
    return os.listdir(storage.tmp) if os.path.isdir(storage.tmp) else []


def test_incoming_file_hashes_while_written_and_reads_back(local):
    """Sequential writes are hashed as they come; seeking back to read (as Werkzeug does) keeps the hash."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    incoming = local.new_temp("big.bin")
    for start in range(0, len(data), 65536):
        incoming.write(data[start:start + 65536])
    incoming.seek(0)
    assert incoming.read() == data
    assert (incoming.content_hash, incoming.size) == (sha(data), len(data))
    assert os.path.dirname(incoming.path) == local.tmp
    assert incoming.readable() and incoming.writable() and incoming.seekable()


def test_incoming_file_rehashes_after_a_write_out_of_order(local):
    """A write after seeking back makes the hash come from what is really on disk."""
    incoming = local.new_temp(None)
    incoming.write(b"hello world")
    incoming.seek(0)
    incoming.write(b"J")
    assert (incoming.content_hash, incoming.size) == (sha(b"Jello world"), 11)
    incoming.writelines([b"!", b"?"])
    assert incoming.content_hash == sha(b"J!?lo world")


def test_put_places_the_file_under_its_hash_and_removes_the_temp_file(local):
    """put moves the upload to objects/ab/cd/<hash>, read-only for others, with nothing left in tmp/."""
    stored = put_bytes(local, b"report body")
    assert stored == StoredFile(sha(b"report body"), 11)
    path = os.path.join(local.root, "objects", stored.content_hash[:2], stored.content_hash[2:4],
                        stored.content_hash)
    with open(path, "rb") as f:
        assert f.read() == b"report body"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert temp_files(local) == []
    assert list(local.hashes()) == [stored.content_hash]


def test_put_dedupes_and_refreshes_the_mtime(local):
    """The same bytes twice are stored once; the second put drops its temp file and renews the mtime."""
    first = put_bytes(local, b"same")
    os.utime(local._path(first.content_hash), (OLD, OLD))
    second = put_bytes(local, b"same")
    assert second == first
    assert local.modified_at(first.content_hash) > time.time() - 60
    assert temp_files(local) == [] and list(local.hashes()) == [first.content_hash]


def test_a_failed_put_leaves_nothing_at_the_final_path(local, monkeypatch):
    """If the rename fails, no (half) file appears under the hash and discard removes the temp file."""
    incoming = local.new_temp("a.txt")
    incoming.write(b"partial?")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", broken_replace)
    with pytest.raises(OSError):
        local.put(incoming)
    assert not local.exists(sha(b"partial?"))
    incoming.discard()
    assert temp_files(local) == []


def test_open_exists_size_and_missing(local):
    """open returns the bytes; an unknown hash raises FileMissing; a malformed hash is refused."""
    stored = put_bytes(local, b"abc")
    with local.open(stored.content_hash) as f:
        assert f.read() == b"abc"
    assert local.exists(stored.content_hash) and local.size(stored.content_hash) == 3
    unknown = sha(b"nope")
    assert not local.exists(unknown)
    for call in (local.open, local.size, local.modified_at):
        with pytest.raises(FileMissing):
            call(unknown)
    with pytest.raises(ValueError):
        local.open("../../etc/passwd")


def test_check_and_verify_find_missing_and_corrupted_files(local):
    """verify reports a deleted file as missing and flipped bytes or a wrong size as corrupt."""
    good, gone, flipped = (put_bytes(local, data) for data in (b"good", b"gone", b"flipped"))
    os.unlink(local._path(gone.content_hash))
    path = local._path(flipped.content_hash)
    with open(path, "r+b") as f:
        f.write(b"F")
    assert [local.check(h.content_hash) for h in (good, gone, flipped)] == ["ok", "missing", "corrupt"]
    problems = store.verify(local, [good, gone, flipped, (good.content_hash, 99)])
    assert problems == [store.Problem(gone.content_hash, 4, "missing"),
                        store.Problem(flipped.content_hash, 7, "corrupt"),
                        store.Problem(good.content_hash, 99, "corrupt")]


def test_gc_keeps_referenced_and_recent_files_and_removes_old_unreferenced_ones(local):
    """Only files both unreferenced and older than the grace period go; a dry run deletes nothing."""
    referenced, recent, old = (put_bytes(local, data) for data in (b"referenced", b"recent", b"old"))
    for stored in (referenced, old):
        os.utime(local._path(stored.content_hash), (OLD, OLD))
    assert store.gc(local, {referenced.content_hash}, dry_run=True) == [old.content_hash]
    assert local.exists(old.content_hash)
    assert store.gc(local, {referenced.content_hash}) == [old.content_hash]
    assert sorted(local.hashes()) == sorted([referenced.content_hash, recent.content_hash])


def test_gc_and_clean_temp_remove_only_stale_temp_files(local):
    """Abandoned temp uploads older than the grace period are removed; one being written is kept."""
    stale, fresh = local.new_temp("a"), local.new_temp("b")
    stale.close()
    os.utime(stale.path, (OLD, OLD))
    store.gc(local, set())
    assert temp_files(local) == [os.path.basename(fresh.path)]
    assert local.clean_temp(0) == 1 and temp_files(local) == []


def test_an_unknown_backend_is_refused(tmp_path):
    """LMS_STORAGE must name a known backend; otherwise the app does not start."""
    with pytest.raises(RuntimeError, match="LMS_STORAGE"):
        create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                    "LMS_STORAGE": "s3"})


@pytest.fixture
def upload_app(tmp_path):
    """An app (no database needed) with test routes that receive one file and keep it, drop it or fail."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
                      "LMS_UPLOAD_DIR": str(tmp_path / "uploads"), "WTF_CSRF_ENABLED": False})
    seen = {}

    def receive(action):
        stream = request.files["file"].stream
        seen.update(stream=stream, exists=os.path.exists(stream.path))
        if action == "fail":
            raise RuntimeError("boom")
        stored = store.get_storage().put(stream) if action == "keep" else None
        return jsonify(hash=stored and stored.content_hash, size=stream.size)

    app.add_url_rule("/upload/<action>", view_func=receive, methods=["POST"])
    app.seen = seen
    return app


def test_upload_request_streams_files_into_the_storage_temp_folder(upload_app):
    """An uploaded file is an IncomingFile in <LMS_UPLOAD_DIR>/tmp, hashed, and put() keeps it."""
    assert upload_app.request_class is UploadRequest
    data = os.urandom(700 * 1024)
    response = upload_app.test_client().post("/upload/keep", data={"file": (io.BytesIO(data), "作业.zip")})
    assert response.status_code == 200
    stream = upload_app.seen["stream"]
    assert isinstance(stream, IncomingFile) and upload_app.seen["exists"]
    storage = upload_app.extensions["lms_storage"]
    assert os.path.dirname(stream.path) == storage.tmp
    assert response.json == {"hash": sha(data), "size": len(data)}
    assert storage.exists(sha(data)) and temp_files(storage) == []


@pytest.mark.parametrize("action", ["drop", "fail"])
def test_upload_request_removes_temp_files_that_were_not_stored(upload_app, action):
    """After a request that did not put its file, or that failed, no temp file and no stored file remain."""
    upload_app.testing = False  # a failing view answers 500 instead of raising into the test
    response = upload_app.test_client().post(f"/upload/{action}", data={
        "file": (io.BytesIO(b"one"), "a.txt"), "other": (io.BytesIO(b"two"), "b.txt")})
    assert response.status_code == (200 if action == "drop" else 500)
    storage = upload_app.extensions["lms_storage"]
    assert upload_app.seen["exists"]
    assert temp_files(storage) == [] and list(storage.hashes()) == []
