"""HTTP caching: hashed, compressed, year-cached static files; ETags on public pages. Both databases."""
from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from lms import create_app, httpcache, static_files
from lms.services.content import sync_tree
from tests.conftest import csrf_token, login, write_content
from tests.samples import CASE, LESSON_1, LESSON_2

STATIC = Path(static_files.__file__).resolve().parent / "static"
HASHED = re.compile(r'/static/([\w./-]+?)\.([0-9a-f]{12})(\.\w+)"')
LESSON = "/courses/py-data/lessons/setup"
PUBLIC_PAGES = ["/", "/courses/py-data", LESSON, "/courses/py-data/assignments/final-project", "/cases",
                "/cases/port-cold-chain"]


def resync(content_dir, files: dict[str, str]) -> None:
    write_content(content_dir, files)
    result = sync_tree(content_dir)
    assert result.errors == [] and result.changed


# --- static files -------------------------------------------------------------------------------


def static_urls(page: str) -> list[str]:
    return re.findall(r'"(/static/[^"]+)"', page)


def test_pages_link_every_static_file_by_its_content_hash(client, synced):
    """Every static URL in a page carries the hash of the file's bytes and is cached for a year."""
    page = client.get("/").get_data(as_text=True)
    urls = static_urls(page)
    assert {"lms.css", "pygments.css", "favicon.svg"} <= {
        f"{stem}{ext}" for stem, _hash, ext in HASHED.findall(page)}
    for url in urls:
        stem, digest, ext = HASHED.search(f'{url}"').groups()
        original = (STATIC / f"{stem}{ext}").read_bytes()
        assert hashlib.sha256(original).hexdigest().startswith(digest), url
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.data == original


def test_every_template_builds_static_urls_through_url_for():
    """No template writes a /static/ path by hand (it would miss the hash)."""
    templates = Path(static_files.__file__).resolve().parent / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'(href|src)="/static/', text), path


def test_gzip_when_accepted_and_the_body_decompresses_to_the_file(client):
    """gzip for clients that accept it, identity for the others; Vary: Accept-Encoding on both."""
    original = (STATIC / "lms.css").read_bytes()
    with client.application.test_request_context():
        from flask import url_for
        url = url_for("static", filename="lms.css")
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == original and len(packed.data) < len(original)
    assert packed.headers["Content-Type"] == "text/css; charset=utf-8"
    for accept in (None, "identity", "gzip;q=0"):
        plain = client.get(url, headers={"Accept-Encoding": accept} if accept else {})
        assert "Content-Encoding" not in plain.headers and plain.data == original, accept
        assert "Accept-Encoding" in plain.headers["Vary"]
    assert packed.headers["ETag"] != plain.headers["ETag"]  # one validator per encoding


def test_static_etag_gives_304(client):
    """A cached copy is revalidated with its ETag: 304 and no body, per encoding."""
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        first = client.get("/static/lms.css", headers=headers)
        again = client.get("/static/lms.css", headers={**headers, "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == first.headers["ETag"]
    head = client.head("/static/pygments.css")
    assert head.status_code == 200 and head.data == b"" and int(head.headers["Content-Length"]) > 0


def test_unhashed_and_unknown_hashes_are_served_but_must_revalidate(client):
    """The plain name, or a hash of another version (a page of the previous release), gets the
    current file with no-cache; names that are no file get the site's 404 page."""
    original = (STATIC / "lms.css").read_bytes()
    for url in ("/static/lms.css", "/static/lms.0123456789ab.css"):
        response = client.get(url)
        assert response.status_code == 200 and response.data == original
        assert response.headers["Cache-Control"] == "public, no-cache"
    for url in ("/static/nothing.css", "/static/nothing.0123456789ab.css", "/static/../config.py",
                "/static/%2e%2e/config.py", "/static/.hidden"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "immutable" not in response.headers.get("Cache-Control", "")


def test_static_responses_keep_security_headers_and_touch_no_session(app, client, make_user):
    """Static files carry the usual headers, but no cookie and no Vary: Cookie, even signed in
    (Vary: Cookie would make browsers download year-cached files again after each sign-in)."""
    make_user("student", email="s@example.com")
    login(client, "s@example.com")
    response = client.get("/static/lms.css")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers


def test_static_files_in_production_get_hsts(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    response = app.test_client().get("/static/lms.css")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_files_added_to_the_folder_are_covered(tmp_path, app):
    """Any file in the folder (a new editor.js, a sub-folder) gets a hashed name and gzip, and in
    debug mode a changed file gets a new URL without a restart."""
    tmp_path = tmp_path / "static"
    tmp_path.mkdir()
    (tmp_path / "js").mkdir()
    (tmp_path / "editor.js").write_text("console.log('x');\n" * 200)
    (tmp_path / "js" / "a.b.css").write_text("p{color:red}\n" * 100)
    (tmp_path / ".secret").write_text("no")
    (tmp_path / "LICENSE").write_text("MIT\n")
    files = static_files.StaticFiles(tmp_path, app)
    assert set(files.files) == {"editor.js", "js/a.b.css", "LICENSE"}
    plain = files.url_name("LICENSE")
    assert re.fullmatch(r"LICENSE\.[0-9a-f]{12}", plain) and files.lookup(plain) == (files.files["LICENSE"], True)
    js = files.files["editor.js"]
    assert js.mimetype == "text/javascript" and gzip.decompress(js.gzipped) == js.data
    assert re.fullmatch(r"editor\.[0-9a-f]{12}\.js", files.url_name("editor.js"))
    css_name = files.url_name("js/a.b.css")
    assert re.fullmatch(r"js/a\.b\.[0-9a-f]{12}\.css", css_name)
    assert files.lookup(css_name) == (files.files["js/a.b.css"], True)
    assert files.lookup("js/a.b.css") == (files.files["js/a.b.css"], False)
    assert files.url_name("missing.js") == "missing.js"

    app.debug = True
    try:
        before = files.url_name("editor.js")
        (tmp_path / "editor.js").write_text("console.log('changed');\n" * 200)
        assert files.url_name("editor.js") != before
        (tmp_path / "new.css").write_text("a{}")
        assert files.url_name("new.css") != "new.css"
    finally:
        app.debug = False


def test_tiny_or_incompressible_files_are_not_gzipped(tmp_path):
    (tmp_path / "tiny.css").write_text("a{}")
    (tmp_path / "image.png").write_bytes(bytes(range(256)) * 8)
    files = static_files.StaticFiles(tmp_path)
    assert files.files["tiny.css"].gzipped is None
    assert files.files["image.png"].gzipped is None  # not a text type


# --- public pages: ETag and 304 -----------------------------------------------------------------


def test_anonymous_public_pages_have_an_etag_and_answer_304(client, synced, count_queries):
    """Every public page: weak ETag, private/no-cache, Vary on cookie and language; a request with
    the ETag gets 304 with no body and runs no more queries than the full page."""
    for url in PUBLIC_PAGES:
        with count_queries() as full:
            first = client.get(url)
        assert first.status_code == 200, url
        etag = first.headers["ETag"]
        assert etag.startswith('W/"'), url
        assert first.headers["Cache-Control"] == "private, no-cache"
        vary = {v.strip() for v in first.headers["Vary"].split(",")}
        assert {"Cookie", "Accept-Language"} <= vary
        with count_queries() as revalidated:
            again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "private, no-cache"
        assert revalidated.count <= full.count, url
        assert client.get(url, headers={"If-None-Match": 'W/"something-else"'}).status_code == 200


def test_the_page_of_a_304_still_works(client, synced):
    """The copy the browser keeps carries a CSRF token that still works after a 304."""
    first = client.get(LESSON)
    token = re.search(r'name="csrf_token" value="([^"]+)"', first.get_data(as_text=True)).group(1)
    assert client.get(LESSON, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    switched = client.post("/language", data={"lang": "en", "next": LESSON, "csrf_token": token})
    assert switched.status_code == 302


def lesson_etag(client, url: str = LESSON, **headers) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.headers["ETag"]


def test_etag_changes_with_the_lesson_and_the_course_nav(client, synced):
    """Editing the lesson, another lesson's title (shown in the nav), the course or a case shown
    on the page makes a new ETag; a re-sync that changes nothing keeps it."""
    etag = lesson_etag(client)
    assert sync_tree(synced).changed is False
    assert lesson_etag(client) == etag
    steps = [
        {"courses/py-data/lessons/01-setup.md": LESSON_1.replace("下一课", "下一节")},
        {"courses/py-data/lessons/02-reading-data.md": LESSON_2.replace("第二课：读取数据", "第二课：读数据")},
        {"cases/port-cold-chain.md": CASE.replace("一个虚构的冷链物流案例。", "一个虚构的案例。")},
    ]
    seen = {etag}
    for files in steps:
        resync(synced, files)
        etag = lesson_etag(client)
        assert etag not in seen, files
        seen.add(etag)


def test_a_retired_lesson_is_not_answered_304(client, synced):
    etag = lesson_etag(client)
    (synced / "courses/py-data/lessons/01-setup.md").unlink()
    write_content(synced, {"courses/py-data/lessons/02-reading-data.md": LESSON_2.replace("[第一课](01-setup.md)", "")})
    assert sync_tree(synced).retired
    assert client.get(LESSON, headers={"If-None-Match": etag}).status_code == 404


def test_etag_changes_with_the_language(client, synced):
    """Accept-Language and the language chosen on the site both change the ETag."""
    zh = lesson_etag(client, **{"Accept-Language": "zh-CN"})
    en = lesson_etag(client, **{"Accept-Language": "en"})
    assert zh != en
    token = csrf_token(client, "/")
    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    chosen = client.get(LESSON, headers={"Accept-Language": "zh-CN", "If-None-Match": zh})
    assert chosen.status_code == 200 and chosen.headers["ETag"] == en


def test_etag_changes_with_the_build_and_the_static_files(app, client, synced, monkeypatch):
    """A new release (code, templates, translations, static files) makes new ETags."""
    etag = lesson_etag(client)
    monkeypatch.setitem(app.extensions, "lms_build", "another-release")
    assert lesson_etag(client) != etag
    builds = set()
    for digest in ("a" * 64, "b" * 64):
        monkeypatch.setattr(static_files.StaticFiles, "digest", property(lambda self, d=digest: d))
        other = create_app({"INSTANCE_PATH": str(synced.parent / "i2"), "SQLALCHEMY_DATABASE_URI": "sqlite://",
                            "SECRET_KEY": "x"})
        builds.add(other.extensions["lms_build"])
    assert len(builds) == 2


def test_build_id_covers_the_package_files(tmp_path):
    (tmp_path / "templates").mkdir()
    page = tmp_path / "templates" / "page.html"
    page.write_text("<p>one</p>")
    first = httpcache.build_id(tmp_path)
    assert httpcache.build_id(tmp_path) == first
    page.write_text("<p>two</p>")
    assert httpcache.build_id(tmp_path) != first


def test_etag_is_bound_to_the_session_and_expires_with_its_csrf_tokens(app, client, synced, monkeypatch):
    """Each browser session has its own ETags (the page holds its CSRF token), and they change
    every half CSRF time limit, so a kept page never carries an expired token."""
    first = lesson_etag(client)
    assert lesson_etag(client) == first
    assert lesson_etag(app.test_client()) != first
    now = [1_900_000_000.0]
    monkeypatch.setattr(httpcache.time, "time", lambda: now[0])
    current = lesson_etag(client)
    now[0] += app.config.get("WTF_CSRF_TIME_LIMIT", 3600) // 2
    assert lesson_etag(client) != current


def test_no_etag_with_a_flash_message_or_for_signed_in_users(app, client, synced, make_user):
    """A page showing a flash, or a signed-in user's page, is always rendered afresh."""
    etag = lesson_etag(client)
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Hello")]
    flashed = client.get(LESSON, headers={"If-None-Match": etag})
    assert flashed.status_code == 200 and "ETag" not in flashed.headers and "Hello" in flashed.get_data(as_text=True)

    make_user("student", email="s@example.com")
    login(client, "s@example.com")
    for url in PUBLIC_PAGES:
        response = client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200 and "ETag" not in response.headers, url
        assert response.headers["Cache-Control"] == "private, no-cache"


def test_debug_mode_has_no_page_etags(app, client, synced):
    app.debug = True
    try:
        assert "ETag" not in client.get(LESSON).headers
    finally:
        app.debug = False


# --- public pages: the page cache ---------------------------------------------------------------


def test_an_anonymous_page_is_rendered_once_and_then_served_without_a_query(client, synced, count_queries):
    """The second anonymous request of each public page runs no SQL at all, whoever asks."""
    for url in PUBLIC_PAGES:
        first = client.get(url)
        assert first.status_code == 200, url
        with count_queries() as again:
            second = app_client(client).get(url)
        assert second.status_code == 200 and again.count == 0, url
        token = re.compile(rb'name="csrf_token" value="[^"]+"')
        assert token.sub(b"", second.data) == token.sub(b"", first.data), url


def app_client(client):
    """Another visitor: a new client of the same app, with no cookies."""
    return client.application.test_client()


def test_a_cached_page_and_its_304_carry_the_headers_of_the_rendered_page(client, synced):
    """The cache answers with the rendered page's type, language, cache and security headers
    (they are kept with the page, not added again per request), in each visitor's language."""
    kept = ("Content-Type", "Cache-Control", "Content-Security-Policy",
            "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")
    for language, expected in (("en-GB,en;q=0.8", "en"), ("zh-CN,zh;q=0.9", "zh-CN"), ("fr", "zh-CN")):
        rendered = app_client(client).get(LESSON, headers={"Accept-Language": language})
        cached = app_client(client).get(LESSON, headers={"Accept-Language": language})
        assert rendered.status_code == cached.status_code == 200
        assert f'<html lang="{expected}"' in cached.get_data(as_text=True), language
        for name in kept:
            assert cached.headers.get(name) == rendered.headers.get(name) is not None, (language, name)
        assert {v.strip() for v in cached.headers["Vary"].split(",")} >= {"Cookie", "Accept-Language"}
        assert "session=" in cached.headers["Set-Cookie"] and "HttpOnly" in cached.headers["Set-Cookie"]
    visitor = app_client(client)
    etag = visitor.get(LESSON).headers["ETag"]
    again = visitor.get(LESSON, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert "default-src 'self'" in again.headers["Content-Security-Policy"]
    assert again.headers["X-Frame-Options"] == "DENY" and again.headers["Cache-Control"] == "private, no-cache"


def test_a_cached_page_answers_head_and_sends_each_header_once(client, synced):
    """The cache's answer goes to the server without a Response object of its own: it must still
    carry one of each header, the body's length, and no body for HEAD."""
    client.get(LESSON)  # cached now
    got = app_client(client).get(LESSON)
    assert got.status_code == 200
    names = [name.lower() for name, _value in got.headers]
    assert len(names) == len(set(names)), names
    assert int(got.headers["Content-Length"]) == len(got.data) > 1000
    head = app_client(client).head(LESSON)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert head.headers["Content-Type"] == got.headers["Content-Type"] and "session=" in head.headers["Set-Cookie"]


def test_a_language_chosen_on_the_browser_picks_its_own_cached_page(client, synced):
    """The cache key's language is the one the page is rendered in: a visitor who chose English
    is not answered with the Chinese page cached for a browser that asks for Chinese."""
    chinese = app_client(client)
    assert 'lang="zh-CN"' in chinese.get(LESSON, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    visitor = app_client(client)
    page = visitor.get(LESSON, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert visitor.post("/language", data={"lang": "en", "next": LESSON, "csrf_token": token}).status_code == 302
    for _ in range(2):  # rendered, then from the cache
        again = visitor.get(LESSON, headers={"Accept-Language": "zh-CN"})
        assert 'lang="en"' in again.get_data(as_text=True)
    assert 'lang="zh-CN"' in chinese.get(LESSON, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_each_visitor_of_a_cached_page_gets_a_working_token_of_their_own(client, synced):
    client.get(LESSON)  # cached now
    tokens = []
    for _ in range(2):
        visitor = app_client(client)
        page = visitor.get(LESSON).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        tokens.append(token)
        switched = visitor.post("/language", data={"lang": "en", "next": LESSON, "csrf_token": token})
        assert switched.status_code == 302
        assert 'lang="en"' in visitor.get(LESSON).get_data(as_text=True)
    assert tokens[0] != tokens[1]
    stranger = app_client(client)
    stranger.get(LESSON)
    refused = stranger.post("/language", data={"lang": "en", "next": LESSON, "csrf_token": tokens[0]})
    assert refused.status_code == 400  # a token is bound to its visitor's session


def test_a_returning_anonymous_visitor_gets_no_new_cookie(client, synced):
    """An anonymous session (a CSRF secret) is kept as it is: no cookie on the following pages
    (the session protection used to rewrite it on every request)."""
    first = client.get(LESSON)
    assert "session=" in first.headers.get("Set-Cookie", "")
    for url in PUBLIC_PAGES + ["/auth/login"]:
        again = client.get(url)
        assert again.status_code == 200
        assert "Set-Cookie" not in again.headers, url


def test_signed_in_users_and_flashes_never_get_the_cached_page(app, client, synced, make_user):
    anonymous = client.get(LESSON).get_data(as_text=True)
    assert "Sign out" not in anonymous and "退出" not in anonymous
    make_user("student", email="reader@example.com", name="Reader Lin")
    login(client, "reader@example.com")
    for url in PUBLIC_PAGES:
        page = client.get(url).get_data(as_text=True)
        assert "Reader Lin" in page, url
    other = app.test_client()
    other.get(LESSON)
    with other.session_transaction() as session:
        session["_flashes"] = [("info", "A message for you")]
    assert "A message for you" in other.get(LESSON).get_data(as_text=True)


def test_a_change_by_another_process_is_seen_at_the_next_request(app, client, synced, tmp_path):
    """A second app on the same database and instance folder stands for another worker or a
    `flask content sync`: its commit replaces the marker, and this app re-renders at once."""
    from lms.extensions import db

    assert "第一课" in client.get(LESSON).get_data(as_text=True)
    other = create_app({**{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "LMS_CONTENT_DIR",
                                                        "LMS_UPLOAD_DIR")},
                        "TESTING": True, "INSTANCE_PATH": app.instance_path})
    with other.app_context():
        write_content(synced, {"courses/py-data/lessons/01-setup.md": LESSON_1.replace("第一课", "新的第一课")})
        assert sync_tree(synced).changed
        db.session.remove()
        db.engine.dispose()
    assert "新的第一课" in client.get(LESSON).get_data(as_text=True)


def test_a_mentors_new_name_is_shown_at_once_but_a_sign_in_keeps_the_cache(app, client, synced, make_user,
                                                                             count_queries):
    from lms.extensions import db

    mentor = make_user("mentor", email="mentor@example.com", name="Old Name")
    assert "Old Name" in client.get("/courses/py-data").get_data(as_text=True)
    login(app.test_client(), "mentor@example.com")  # writes the sign-in time and the log: no page changes
    with count_queries() as served:
        assert "Old Name" in app_client(client).get("/courses/py-data").get_data(as_text=True)
    assert served.count == 0
    mentor.name = "New Name"
    db.session.commit()
    assert "New Name" in client.get("/courses/py-data").get_data(as_text=True)


def test_the_cache_is_bounded_and_can_be_turned_off(tmp_path, app, client, synced, count_queries):
    cache = app.extensions["lms_page_cache"]
    for url in PUBLIC_PAGES:
        client.get(url)
    assert len(cache) == len(PUBLIC_PAGES)
    small = httpcache.PageCache(tmp_path / "marker", max_bytes=100_000, max_age=60)
    stamp = small.stamp()
    for n in range(30):
        small.put((f"/{n}",), httpcache.Entry([b"x" * 10_000], 200, [], "d", stamp, httpcache.time.monotonic(), 10_000))
    assert len(small) == 10 and small.get(("/29",), stamp) is not None and small.get(("/0",), stamp) is None
    off = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "off"), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                      "LMS_CONTENT_DIR": app.config["LMS_CONTENT_DIR"], "LMS_PAGE_CACHE_MB": 0})
    assert "lms_page_cache" not in off.extensions


def test_a_cached_page_expires_after_its_time(app, client, synced, count_queries, monkeypatch):
    """Servers on other machines learn of content changes by the entries' age."""
    cache = app.extensions["lms_page_cache"]
    client.get(LESSON)
    now = [httpcache.time.monotonic() + cache.max_age + 1]
    monkeypatch.setattr(httpcache.time, "monotonic", lambda: now[0])
    with count_queries() as expired:
        assert client.get(LESSON).status_code == 200
    assert expired.count > 0


def test_the_session_cookie_follows_the_secret_key(app, client, synced):
    """The session serializer is made once per key: after a new key, cookies signed with the
    old one are no longer read (the language chosen in them is gone)."""
    token = csrf_token(client, LESSON)
    assert client.post("/language", data={"lang": "en", "next": LESSON, "csrf_token": token}).status_code == 302
    assert 'lang="en"' in client.get(LESSON, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    app.secret_key = "another-secret"
    page = client.get(LESSON, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="zh' in page and 'lang="en"' not in page.split("<body", 1)[0]
