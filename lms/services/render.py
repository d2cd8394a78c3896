"""The one render-and-sanitize function of the project.

Everything written in Markdown, lessons by mentors and answers by students alike, becomes
HTML only through :func:`render_markdown`. It renders with Python-Markdown, then sanitizes
against an allowlist with bleach, so what it returns is safe to mark as ``|safe`` in a
template. Relative links between content files are rewritten to the application's URLs.
"""

from __future__ import annotations

import posixpath
import re
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import bleach
import markdown
import tinycss2
from bleach.css_sanitizer import CSSSanitizer
from bleach.html5lib_shim import Filter, convert_entities
from markdown.extensions.toc import slugify_unicode

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
    "strong", "em", "b", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup",
    "kbd", "code", "pre", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "a", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "span", "div", "figure", "figcaption", "details", "summary", "abbr",
})
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "th": ["colspan", "rowspan", "style"],
    "td": ["colspan", "rowspan", "style"],
    **{f"h{level}": ["id"] for level in range(1, 7)},
    **{tag: ["class"] for tag in ("span", "div", "code", "pre")},
    "abbr": ["title"],
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
EXTERNAL_REL = "noopener noreferrer nofollow"
_ALIGNMENTS = frozenset({"left", "right", "center", "justify", "start", "end"})

# Content-relative path -> application URL; groups are percent-encoded before formatting.
_ROUTES = (
    (re.compile(r"courses/([^/]+)/lessons/\d+-([^/]+)\.md"), "/courses/{0}/lessons/{1}"),
    (re.compile(r"courses/([^/]+)/assignments/([^/]+)\.md"), "/courses/{0}/assignments/{1}"),
    (re.compile(r"courses/([^/]+)/course\.md"), "/courses/{0}"),
    (re.compile(r"courses/([^/]+)/assets/(.+)"), "/courses/{0}/assets/{1}"),
    (re.compile(r"cases/([^/]+)\.md"), "/cases/{0}"),
)
_FRAGMENT_SAFE = "-._~!$'()*+,;=:@/?"


@dataclass(frozen=True)
class Rendered:
    """Sanitized HTML of a Markdown text, its table of contents and its local link targets."""

    html: str
    toc_html: str
    links: tuple[str, ...]


@dataclass
class _LinkContext:
    base_dir: str | None
    links: list[str] = field(default_factory=list)


# The per-call state the link filter needs (the filter is instantiated by bleach).
_context: ContextVar[_LinkContext | None] = ContextVar("render_link_context", default=None)


class _TextAlignOnly(CSSSanitizer):
    """Keeps only ``text-align: <keyword>``, the one style Python-Markdown tables emit.

    bleach's CSSSanitizer checks property names but not values (``text-align: url(...)``
    would pass) and allows SVG properties such as ``fill`` by default, hence this override.
    """

    def __init__(self):
        super().__init__(allowed_css_properties=["text-align"], allowed_svg_properties=[])

    def sanitize_css(self, style):
        kept = []
        declarations = tinycss2.parse_declaration_list(
            style, skip_comments=True, skip_whitespace=True
        )
        for decl in declarations:
            if decl.type != "declaration" or decl.lower_name not in self.allowed_css_properties:
                continue
            value = [t for t in decl.value if t.type not in ("whitespace", "comment")]
            if len(value) == 1 and value[0].type == "ident" and value[0].lower_value in _ALIGNMENTS:
                kept.append(f"{decl.lower_name}: {value[0].lower_value};")
        return " ".join(kept)


def _content_url(content_path: str) -> str | None:
    """Return the application URL of a content-relative path, or None if it has none."""
    for pattern, template in _ROUTES:
        match = pattern.fullmatch(content_path)
        if match:
            return template.format(*(quote(group, safe="/") for group in match.groups()))
    return None


def _rewrite(value: str, context: _LinkContext) -> str | None:
    """Return the URL to serve for a sanitized href/src, or None to drop the attribute."""
    url = convert_entities(value).strip()
    if context.base_dir is None or not url or url.startswith(("/", "\\", "#", "?")):
        return value
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return value
    relative = unquote(parts.path).replace("\\", "/")
    target = posixpath.normpath(posixpath.join(context.base_dir, relative))
    if target == ".." or target.startswith(("../", "/")):
        return None  # escapes the content root
    mapped = _content_url(target)
    if mapped is None:
        return value
    if target not in context.links:
        context.links.append(target)
    if parts.fragment:
        mapped += "#" + quote(unquote(parts.fragment), safe=_FRAGMENT_SAFE)
    return mapped


def _is_external(value: str) -> bool:
    url = re.sub(r"[\t\n\r]", "", convert_entities(value)).strip().replace("\\", "/")
    return url.startswith("//") or urlsplit(url).scheme.lower() in ("http", "https")


class _LinkFilter(Filter):
    """Runs after sanitizing: rewrites local links and marks external ones with rel."""

    def __iter__(self):
        context = _context.get() or _LinkContext(base_dir=None)
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] in ("a", "img"):
                attrs = token["data"]
                key = (None, "href" if token["name"] == "a" else "src")
                if key in attrs:
                    new = _rewrite(attrs[key], context)
                    if new is None:
                        del attrs[key]
                    else:
                        attrs[key] = new
                        if token["name"] == "a" and _is_external(new):
                            attrs[(None, "rel")] = EXTERNAL_REL
            yield token


# One configuration, one Cleaner per thread: a Cleaner reuses a single html5lib parser,
# which corrupts its state when two threads clean at once (mozilla/bleach#370).
_CLEANER_OPTIONS = {
    "tags": ALLOWED_TAGS,
    "attributes": ALLOWED_ATTRIBUTES,
    "protocols": ALLOWED_PROTOCOLS,
    "strip": True,
    "strip_comments": True,
    "css_sanitizer": _TextAlignOnly(),
    "filters": [_LinkFilter],
}
_thread = threading.local()


def _cleaner() -> bleach.Cleaner:
    """Return this thread's Cleaner, configured with _CLEANER_OPTIONS."""
    cleaner = getattr(_thread, "cleaner", None)
    if cleaner is None:
        cleaner = _thread.cleaner = bleach.Cleaner(**_CLEANER_OPTIONS)
    return cleaner


def _new_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "toc", "sane_lists"],
        extension_configs={
            "codehilite": {"css_class": "codehilite", "guess_lang": False},
            "toc": {"slugify": slugify_unicode, "permalink": False},
        },
    )


def _count_headings(tokens: list[dict]) -> int:
    return sum(1 + _count_headings(token["children"]) for token in tokens)


# The Content-Security-Policy forbids inline styles, so the one style kept (table-cell
# alignment, already reduced to a keyword by the sanitizer) becomes a class of the stylesheet.
_ALIGN_STYLE = re.compile(r' style="text-align: ?(left|right|center|justify|start|end);?"')


def render_markdown(source: str, *, path: str | None = None) -> Rendered:
    """Render Markdown to sanitized HTML; `path` is the file's content-relative path (e.g.
    'courses/py/lessons/01-intro.md'), used to rewrite relative links; None (e.g. student
    text) leaves no link rewritten.

    The HTML contains no script, no event handler, no URL other than http(s), mailto and
    relative ones, and no style other than table-cell ``text-align``. With a `path`, links
    to lessons, assignments, courses, cases and assets become application URLs, links
    escaping the content root lose their href/src, and the mapped targets are returned in
    ``links`` (content-relative, in order, without duplicates or fragments).
    """
    md = _new_markdown()  # a fresh instance per call: Markdown objects are not thread-safe
    body = md.convert(source)
    context = _LinkContext(base_dir=posixpath.dirname(path) if path is not None else None)
    token = _context.set(context)
    try:
        html = _ALIGN_STYLE.sub(r' class="align-\1"', _cleaner().clean(body))
        # Code blocks scroll sideways; keyboard users must be able to focus them to scroll.
        html = html.replace("<pre>", '<pre tabindex="0">')
        toc_html = ""
        if _count_headings(md.toc_tokens) >= 2:
            toc = md.toc.strip().removeprefix('<div class="toc">').removesuffix("</div>")
            toc_html = _cleaner().clean(toc.strip())
    finally:
        _context.reset(token)
    return Rendered(html=html, toc_html=toc_html, links=tuple(context.links))


def render_many(items: list[tuple[str, str | None]]) -> list[Rendered]:
    """``render_markdown`` over ``(source, path)`` pairs, in order: the unit of work that the
    content sync hands to its worker processes (it imports nothing beyond this module)."""
    return [render_markdown(source, path=path) for source, path in items]


_HEADING_OPEN = re.compile(r'<h([1-6])(?: id="[^"]*")?>')
_HEADING_CLOSE = re.compile(r"</h([1-6])>")


def render_user_markdown(source: str) -> str:
    """Sanitized HTML for text written on a page (a student's answer, a mentor's feedback).

    Same rules as render_markdown, and the text is nested inside a page: headings start at
    level 4 and carry no id, so they can neither clash with the page's own ids and anchors
    nor break its heading outline.
    """
    if not source.strip():
        return ""
    html = render_markdown(source).html

    def shift(match: re.Match) -> str:
        return str(min(6, int(match.group(1)) + 3))

    html = _HEADING_OPEN.sub(lambda m: f"<h{shift(m)}>", html)
    return _HEADING_CLOSE.sub(lambda m: f"</h{shift(m)}>", html)
