"""The translation catalogs: in step with the source, complete in Chinese, and used by the pages."""
from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from lms.i18n import LANGUAGE_NAMES
from lms.services.content import sync_tree
from tests.conftest import write_content
from tests.samples import valid_tree

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "lms" / "translations"
POT = TRANSLATIONS / "messages.pot"
# Babel normalises the zh_CN locale to zh_Hans_CN and Flask-Babel looks the catalog up under
# that name (gettext would try zh_Hans_CN, then zh), so the folder is zh_Hans_CN, not zh_CN.
ZH = "zh_Hans_CN"
# The same keywords as `make extract-messages` (Babel's defaults include _, gettext, ngettext).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
# A %-placeholder (Jinja's newstyle gettext %-formats every string) or an escaped percent sign.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")


def _key(message) -> tuple:
    """(context, msgid) of a catalog message; a plural msgid is the (singular, plural) pair."""
    return message.context, message.id


def _label(key: tuple) -> str:
    context, msgid = key
    text = " / ".join(msgid) if isinstance(msgid, tuple) else msgid
    return f"{context}: {text!r}" if context else repr(text)


def _read(path: Path):
    with path.open("rb") as fileobj:
        return read_po(fileobj)


def _messages(catalog) -> dict:
    return {_key(m): m for m in catalog if m.id}


def _locale_dirs() -> list[Path]:
    return sorted(p.parent.parent for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def _compile_catalogs() -> None:
    """Compile each .po to its .mo (as `make translations` does) when the .mo is missing or older."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = _read(po)
        tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # written whole, then renamed into place
        try:
            with tmp.open("wb") as fileobj:
                write_mo(fileobj, catalog, use_fuzzy=True)
            os.replace(tmp, mo)
        finally:
            tmp.unlink(missing_ok=True)


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs():
    """The .mo files the app loads, built from the committed .po files if they are stale."""
    _compile_catalogs()


@pytest.fixture(scope="module")
def pot() -> dict:
    return _messages(_read(POT))


@pytest.fixture(scope="module")
def zh() -> dict:
    po = TRANSLATIONS / ZH / "LC_MESSAGES" / "messages.po"
    assert po.exists(), f"no Chinese catalog at {po.relative_to(ROOT)} (Flask-Babel does not find a zh_CN folder)"
    return _messages(_read(po))


def test_pot_is_up_to_date(pot):
    """messages.pot holds exactly the strings marked for translation in lms/ (run `make extract-messages`)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = set()
    for _filename, _lineno, msgid, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        extracted.add((context, msgid))
    missing = sorted(map(_label, extracted - set(pot)))
    stale = sorted(map(_label, set(pot) - extracted))
    assert not missing and not stale, (
        f"messages.pot is out of date; run `make extract-messages` and translate. "
        f"Not in messages.pot: {missing}. No longer in the source: {stale}")


def test_catalogs_match_pot(pot):
    """Every language's messages.po lists the same strings as messages.pot (no missing or leftover entries)."""
    assert ZH in [d.name for d in _locale_dirs()], f"no {ZH} catalog"
    for locale_dir in _locale_dirs():
        messages = _messages(_read(locale_dir / "LC_MESSAGES" / "messages.po"))
        missing = sorted(map(_label, set(pot) - set(messages)))
        leftover = sorted(map(_label, set(messages) - set(pot)))
        assert not missing and not leftover, (
            f"{locale_dir.name}: run `make extract-messages`. Missing: {missing}. Leftover: {leftover}")


def test_every_string_has_a_chinese_translation(pot, zh):
    """Each msgid of messages.pot has a non-empty, non-fuzzy Simplified Chinese translation."""
    untranslated = []
    for key in pot:
        message = zh.get(key)
        strings = message and (message.string if isinstance(message.string, tuple) else (message.string,))
        if not message or message.fuzzy or not all(s and s.strip() for s in strings):
            untranslated.append(_label(key))
    assert not untranslated, f"untranslated or fuzzy in {ZH}: {untranslated}"


def _tokens(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_chinese_placeholders_match(zh):
    """Each Chinese translation keeps the placeholders (and %%) of its msgid, and has no stray %."""
    wrong = []
    for key, message in zh.items():
        source = message.id[1] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            if not string:
                continue  # reported by test_every_string_has_a_chinese_translation
            if set(_tokens(string)) != set(_tokens(source)) or "%" in PLACEHOLDER.sub("", string):
                wrong.append(f"{_label(key)} -> {string!r}")
    assert not wrong, f"placeholders differ from the msgid: {wrong}"


class _InterfaceText(HTMLParser):
    """Collects text and labelling attributes, skipping code and anything marked as another language."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}
    SKIP = {"script", "style", "code", "pre"}
    ATTRIBUTES = {"aria-label", "title", "alt", "placeholder"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.texts: list[str] = []

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = attrs.get("lang")
        skipped = (self._skipped() or tag in self.SKIP
                   or (lang is not None and not lang.lower().startswith("zh")))
        if not skipped:
            self.texts.extend(v for k, v in attrs.items() if k in self.ATTRIBUTES and v)
        if tag not in self.VOID:
            self.stack.append((tag, skipped))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not self._skipped() and data.strip():
            self.texts.append(" ".join(data.split()))


def _pattern(msgid: str) -> re.Pattern:
    """A regex matching ``msgid`` as rendered: placeholders match any text, whole words only."""
    parts = PLACEHOLDER.split(msgid)
    tokens = PLACEHOLDER.findall(msgid)
    regex = re.escape(parts[0])
    for token, part in zip(tokens, parts[1:]):
        regex += ("%" if token == "%%" else ".+?") + re.escape(part)
    if msgid[:1].isalnum():
        regex = r"(?<!\w)" + regex
    if msgid[-1:].isalnum():
        regex += r"(?!\w)"
    return re.compile(regex)


PAGES = [
    "/",
    "/cases",
    "/cases/port-cold-chain",
    "/courses/py-data",
    "/courses/py-data/lessons/setup",
    "/courses/py-data/lessons/reading-data",
    "/courses/py-data/assignments/final-project",
    "/auth/login",
    "/auth/register",
    "/auth/reset",
]


def test_chinese_pages_have_no_english_interface_text(client, content_dir, zh):
    """Pages rendered for Accept-Language zh-CN show no English interface string that has a translation."""
    write_content(content_dir, valid_tree())
    assert sync_tree(content_dir).errors == []
    english = {}
    for message in zh.values():
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for source in sources:
            if len(PLACEHOLDER.sub("", source).strip()) > 3 and source not in strings:
                english[source] = _pattern(source)
    skip_to_content = zh[(None, "Skip to content")].string
    for path in PAGES:
        response = client.get(path, headers={"Accept-Language": "zh-CN"})
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert skip_to_content in html, (
            f"{path}: the Chinese catalog was not used (is it compiled, in lms/translations/{ZH}?)")
        parser = _InterfaceText()
        parser.feed(html)
        parser.close()
        # A language's own name ("English" in a language picker) is meant to stay untranslated.
        texts = [text for text in parser.texts if text not in LANGUAGE_NAMES.values()]
        found = sorted({source for text in texts for source, pattern in english.items()
                        if pattern.search(text)})
        assert not found, f"{path}: English interface text on the Chinese page: {found}"


def test_dates_and_messages_follow_each_readers_language_and_zone(tmp_path):
    """Translations are looked up once per request and formatted dates are kept: neither may leak
    from one reader to the next (another language, another time zone)."""
    from datetime import datetime, timezone

    from flask import render_template_string
    from flask_wtf import FlaskForm
    from werkzeug.datastructures import MultiDict
    from wtforms import IntegerField

    from lms import create_app
    from lms.templating import localtime

    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "INSTANCE_PATH": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": False})
    when = datetime(2026, 11, 3, 5, 6, 7, tzinfo=timezone.utc)

    class Numbers(FlaskForm):
        n = IntegerField("n")

    def reader(language: str, zone: str) -> tuple[str, str, str]:
        app.config["LMS_TIMEZONE"] = zone
        with app.app_context(), app.test_request_context("/", headers={"Accept-Language": language}):
            app.preprocess_request()
            form = Numbers(formdata=MultiDict({"n": "x"}))
            form.validate()
            return (localtime(when, "full"), render_template_string("{{ _('Sign in') }}|{{ t|localtime }}", t=when),
                    form.errors["n"][0])

    shanghai = reader("zh-CN", "Asia/Shanghai")
    new_york = reader("en", "America/New_York")
    assert "13:06:07" in shanghai[0] and "星期二" in shanghai[0]
    assert "12:06:07" in new_york[0] and "Tuesday" in new_york[0]
    assert shanghai[1].startswith("登录|") and new_york[1].startswith("Sign in|") and shanghai[1] != new_york[1]
    assert shanghai[2] == "不是有效的整数。" and new_york[2] == "Not a valid integer value."
    assert reader("zh-CN", "Asia/Shanghai") == shanghai and reader("en", "America/New_York") == new_york
    assert "06:06:07" in reader("zh-CN", "Europe/Berlin")[0]  # the same language, another zone
