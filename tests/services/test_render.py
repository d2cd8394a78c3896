"""Tests for lms.services.render: Markdown rendering, sanitizing and link rewriting."""

import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

try:
    import html5lib
except ImportError:  # bleach 6 vendors html5lib instead of depending on the package
    from bleach._vendor import html5lib

from lms.services.render import Rendered, render_markdown

LESSON = "courses/py/lessons/02-loops.md"

FORBIDDEN_TAGS = {
    "script", "iframe", "object", "embed", "svg", "math", "style", "form", "base", "meta",
    "link", "noscript", "template", "frame", "frameset", "applet", "input", "button",
    "textarea", "select",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "data", "poster", "background"}
UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")


def _local(name):
    """Drop the {namespace} prefix html5lib puts on foreign elements and attributes."""
    return name.rsplit("}", 1)[-1].lower()


def parse(html):
    """Parse HTML the way a browser would and return the <body> element."""
    return html5lib.parse(html, namespaceHTMLElements=False).find("body")


def elements(html, tag):
    """Return the elements named `tag` in `html`, in document order."""
    return [el for el in parse(html).iter() if isinstance(el.tag, str) and _local(el.tag) == tag]


def assert_inert(html):
    """Fail unless `html`, parsed as a browser would, can run no script nor load unsafe URLs."""
    for el in html5lib.parse(html, namespaceHTMLElements=False).iter():
        if not isinstance(el.tag, str):  # comments
            continue
        tag = _local(el.tag)
        assert tag not in FORBIDDEN_TAGS, f"<{tag}> in {html!r}"
        for raw_name, value in el.attrib.items():
            name = _local(raw_name)
            assert not name.startswith("on"), f"{name} on <{tag}> in {html!r}"
            if name in URL_ATTRIBUTES:
                url = re.sub(r"[\x00-\x20\x7f-\x9f]+", "", value).lower()
                assert not url.startswith(UNSAFE_SCHEMES), f"{name}={value!r} in {html!r}"
            if name == "style":
                style = re.sub(r"[\s\\]+", "", value).lower()
                for word in ("url(", "expression", "import"):
                    assert word not in style, f"style={value!r} in {html!r}"


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href=" jav&#x61;script:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    "<svg><circle r=1></circle></svg>",
    '<svg><a xlink:href="javascript:alert(1)">x</a></svg>',
    '<p style="background: url(https://evil.example/x.png)">x</p>',
    '<img src="DATA:image/png;base64,AAAA">',
])
def test_assert_inert_catches_known_bad_html(html):
    """The helper itself fails on dangerous HTML, so a passing corpus means something."""
    with pytest.raises(AssertionError):
        assert_inert(html)


def test_assert_inert_accepts_safe_html():
    """The helper lets ordinary sanitized output through."""
    assert_inert('<p><a href="/courses/py" rel="nofollow">x</a><img src="a.png" alt="">'
                 '<table><tr><td style="text-align: center;">1</td></tr></table></p>')


XSS_CORPUS = {
    "script": "<script>alert(1)</script>",
    "script-uppercase": "<SCRIPT>alert(1)</SCRIPT>",
    "script-attributes": '<script src="https://evil.example/x.js" type="module" defer></script>',
    "script-nested": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "script-split": "<<script>script>alert(1)<</script>/script>",
    "script-newline-in-tag": "<script\n>alert(1)</script\n>",
    "script-in-paragraph": "Hello <script>alert(1)</script> world",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "img-onerror-slashes": "<IMG/SRC=x/ONERROR=alert(1)>",
    "img-src-javascript": "<IMG SRC=javascript:alert(1)>",
    "body-onload": "<body onload=alert(1)>",
    "svg-onload": "<svg onload=alert(1)>",
    "svg-script": "<svg><script>alert(1)</script></svg>",
    "svg-xlink": '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "div-onmouseover": '<div onmouseover="alert(1)">hover me</div>',
    "autofocus-onfocus": "<input autofocus onfocus=alert(1)>",
    "details-ontoggle": "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "md-link-javascript": "[x](javascript:alert(1))",
    "md-link-angle-javascript": "[x](<javascript:alert(1)>)",
    "md-image-javascript": "![x](javascript:alert(1))",
    "md-reference-javascript": "[x][r]\n\n[r]: javascript:alert(1)",
    "md-autolink-javascript": "<javascript:alert(1)>",
    "entity-hex": "[x](jav&#x61;script:alert(1))",
    "entity-decimal": "[x](&#106;avascript:alert(1))",
    "entity-no-semicolons": '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099'
                            '&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">x</a>',
    "entity-colon": '<a href="javascript&colon;alert(1)">x</a>',
    "mixed-case": "[x](JaVaScRiPt:alert(1))",
    "tab-inside": '<a href="java\tscript:alert(1)">x</a>',
    "tab-entity-inside": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "leading-whitespace": '<a href="  \n javascript:alert(1)">x</a>',
    "leading-control-char": '<a href="&#1;javascript:alert(1)">x</a>',
    "percent-encoded": "[x](%6Aavascript:alert(1))",
    "vbscript": "[x](vbscript:msgbox(1))",
    "data-html-link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data-image-md": "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "data-image-raw": '<img src="data:image/png;base64,iVBORw0KGgo=">',
    "math-maction": '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">'
                    "x</maction></math>",
    "iframe": '<iframe src="javascript:alert(1)"></iframe>',
    "iframe-srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "object": '<object data="javascript:alert(1)"></object>',
    "embed": '<embed src="javascript:alert(1)">',
    "form-action": '<form action="javascript:alert(1)"><button>go</button></form>',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base-href": '<base href="javascript:alert(1)//">',
    "link-stylesheet": '<link rel="stylesheet" href="https://evil.example/x.css">',
    "style-import": '<style>@import "https://evil.example/x.css";</style>',
    "style-expression": "<style>p { width: expression(alert(1)); }</style>",
    "style-url-javascript": "<style>body { background: url(javascript:alert(1)); }</style>",
    "style-attr-url": '<p style="background: url(javascript:alert(1))">x</p>',
    "style-attr-expression": '<div style="width: expression(alert(1))">x</div>',
    "td-style-url-value": '<table><tr><td style="text-align: url(javascript:alert(1))">x</td>'
                          "</tr></table>",
    "td-style-svg-property": '<table><tr><td style="fill: url(https://evil.example/x)">x</td>'
                             "</tr></table>",
    "td-style-import": '<table><tr><td style="text-align: left; @import \'x.css\';">x</td>'
                       "</tr></table>",
    "md-image-alt-injection": '![x" onerror="alert(1)](a.png)',
    "md-title-injection": '[x](a.png "title\\" onmouseover=\\"alert(1)")',
    "md-title-single-quotes": "[x](https://example.com 'a\" onclick=\"alert(1)')",
    "md-reference-title-injection": '[x][r]\n\n[r]: a.md "t\\" onclick=\\"alert(1)"',
    "attr-list-heading": '# Heading {: onclick="alert(1)" }',
    "attr-list-paragraph": 'Paragraph\n{: onclick="alert(1)" style="background:url(x)" }',
    "mxss-noscript": '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "mxss-svg-style": '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "mxss-math-mglyph": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "comment-breakout": "<!--><img src=x onerror=alert(1)>-->",
    "comment-conditional": "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "cdata": "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "cdata-in-svg": "<svg><![CDATA[><img src=x onerror=alert(1)>]]></svg>",
    "fenced-code-html": "```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```",
    "fenced-code-no-language": "```\n<script>alert(1)</script>\n```",
    "inline-code": "`<img src=x onerror=alert(1)>`",
    "heading-with-html": "# <img src=x onerror=alert(1)> one\n\n## <script>alert(1)</script> two",
    "heading-escaped-html": "# &lt;script&gt;alert(1)&lt;/script&gt;\n\n## two",
}


@pytest.mark.parametrize("path", [None, LESSON])
@pytest.mark.parametrize("source", XSS_CORPUS.values(), ids=XSS_CORPUS.keys())
def test_xss_corpus_renders_inert(source, path):
    """No corpus entry yields a script, event handler, unsafe URL or loading style."""
    rendered = render_markdown(source, path=path)
    assert_inert(rendered.html)
    assert_inert(rendered.toc_html)


def test_code_blocks_show_html_as_text():
    """HTML inside fenced and inline code is displayed escaped, not dropped or run."""
    rendered = render_markdown("```html\n<script>alert(1)</script>\n```\n\n`<b>x</b>`")
    block, inline = elements(rendered.html, "code")
    assert "".join(block.itertext()) == "<script>alert(1)</script>\n"
    assert "".join(inline.itertext()) == "<b>x</b>"
    assert not elements(rendered.html, "script") and not elements(rendered.html, "b")


def test_disallowed_tags_are_removed_not_displayed():
    """Disallowed tags vanish instead of showing up as escaped markup."""
    html = render_markdown('<iframe src="https://example.com"></iframe><p>after</p>').html
    assert "iframe" not in html and elements(html, "p")[0].text == "after"


def test_html_comments_do_not_reach_the_page():
    """Comments in the source (mentor notes, conditional comments) are stripped."""
    html = render_markdown("text\n\n<!-- answer: 42 -->\n\n<p>x<!-- note --></p>").html
    assert "<!--" not in html and "42" not in html and "note" not in html


def test_attr_list_syntax_stays_text():
    """Without attr_list, {: onclick=...} is shown as text instead of becoming an attribute."""
    rendered = render_markdown('Paragraph\n{: onclick="alert(1)" }')
    assert "{: onclick" in parse(rendered.html).find("p").text


def test_fenced_code_is_highlighted_with_classes():
    """Fenced code gets the codehilite wrapper and Pygments token classes, not inline styles."""
    html = render_markdown("```python\ndef f():\n    return 1\n```").html
    (block,) = elements(html, "div")
    assert block.get("class") == "codehilite"
    assert any(span.get("class") == "k" for span in elements(html, "span"))
    assert "style=" not in html


def test_tables_keep_structure_and_only_text_align():
    """Tables render with thead/tbody; alignment becomes a class (the CSP forbids inline styles)."""
    html = render_markdown("| a | b | c |\n|:-:|--:|---|\n| 1 | 2 | 3 |").html
    assert elements(html, "thead") and elements(html, "tbody")
    cells = elements(html, "th") + elements(html, "td")
    assert [cell.get("class") for cell in cells] == ["align-center", "align-right", None] * 2
    assert all(cell.get("style") is None for cell in cells)


def test_chinese_headings_get_meaningful_ids_and_toc():
    """Chinese headings get ids containing the Chinese text, and the TOC links to them."""
    rendered = render_markdown("# 循环与迭代\n\n## 列表推导式\n\n正文。")
    ids = [h.get("id") for h in elements(rendered.html, "h1") + elements(rendered.html, "h2")]
    assert ids == ["循环与迭代", "列表推导式"]
    hrefs = [a.get("href") for a in elements(rendered.toc_html, "a")]
    assert hrefs == ["#循环与迭代", "#列表推导式"]
    assert rendered.toc_html.startswith("<ul>")


def test_chinese_paragraphs_round_trip():
    """Chinese prose, punctuation included, comes out unchanged."""
    text = "厦门的企业案例：物流、制造与金融科技（第一部分）。"
    assert render_markdown(text).html == f"<p>{text}</p>"


def test_toc_is_empty_with_one_heading():
    """A text with a single heading has no table of contents."""
    assert render_markdown("# Only one\n\ntext").toc_html == ""


def test_returns_rendered():
    """The result is a frozen Rendered with a tuple of links."""
    rendered = render_markdown("text")
    assert isinstance(rendered, Rendered) and rendered.links == ()
    with pytest.raises(AttributeError):
        rendered.html = "<script></script>"


@pytest.mark.parametrize(("markdown_link", "expected"), [
    ("[x](01-intro.md)", "/courses/py/lessons/intro"),
    ("[x](./01-intro.md)", "/courses/py/lessons/intro"),
    ("[x](03-files.md#read)", "/courses/py/lessons/files#read"),
    ("[x](../assignments/final.md)", "/courses/py/assignments/final"),
    ("[x](../course.md)", "/courses/py"),
    ("[x](../../../cases/port.md)", "/cases/port"),
    ("[x](../../js/lessons/10-dom.md)", "/courses/js/lessons/dom"),
    ('<a href="01-intro.md">x</a>', "/courses/py/lessons/intro"),
    ('<a href="0&#49;-intro.md">x</a>', "/courses/py/lessons/intro"),
    ("[x](https://example.com)", "https://example.com"),
    ("[x](#section)", "#section"),
    ("[x](mailto:mentor@example.com)", "mailto:mentor@example.com"),
    ("[x](notes.txt)", "notes.txt"),
])
def test_links_are_rewritten(markdown_link, expected):
    """Relative links to content files become application URLs; others are left alone."""
    (link,) = elements(render_markdown(markdown_link, path=LESSON).html, "a")
    assert link.get("href") == expected


def test_images_are_rewritten_to_asset_urls():
    """Relative images under assets/ become asset URLs, subfolders included."""
    (img,) = elements(render_markdown("![a](../assets/img/a.png)", path=LESSON).html, "img")
    assert img.get("src") == "/courses/py/assets/img/a.png"


def test_chinese_asset_names_are_percent_encoded():
    """Asset file names with spaces or Chinese characters are percent-encoded."""
    rendered = render_markdown("![图](<../assets/架构 图.png>)", path=LESSON)
    (img,) = elements(rendered.html, "img")
    assert img.get("src") == "/courses/py/assets/%E6%9E%B6%E6%9E%84%20%E5%9B%BE.png"
    assert rendered.links == ("courses/py/assets/架构 图.png",)


def test_external_links_get_rel_and_no_target():
    """External links are marked noopener noreferrer nofollow and never open a new window."""
    html = render_markdown('<a href="https://example.com" target="_blank">x</a>').html
    (link,) = elements(html, "a")
    assert link.get("rel") == "noopener noreferrer nofollow"
    assert link.get("target") is None


def test_internal_links_get_no_rel():
    """Rewritten content links stay ordinary links."""
    (link,) = elements(render_markdown("[x](01-intro.md)", path=LESSON).html, "a")
    assert link.get("rel") is None


@pytest.mark.parametrize("target", [
    "../../../../etc/passwd",
    "../../../../../x.md",
    "%2Fetc/x",
    "&#46;&#46;/&#46;&#46;/&#46;&#46;/&#46;&#46;/etc/passwd",
])
def test_links_escaping_the_content_root_lose_their_href(target):
    """A relative link resolving outside content/ is kept as text but points nowhere."""
    rendered = render_markdown(f"[x]({target}) ![y]({target})", path=LESSON)
    (link,) = elements(rendered.html, "a")
    (img,) = elements(rendered.html, "img")
    assert link.get("href") is None and img.get("src") is None
    assert rendered.links == ()


def test_without_path_no_link_is_rewritten():
    """Student text (path=None) keeps its relative links as written."""
    rendered = render_markdown("[x](01-intro.md)")
    (link,) = elements(rendered.html, "a")
    assert link.get("href") == "01-intro.md"
    assert rendered.links == ()


def test_links_lists_resolved_targets_in_order_without_duplicates():
    """`links` holds each mapped target once, in order, without fragments."""
    source = (
        "[a](01-intro.md) ![b](../assets/img/a.png) [c](01-intro.md#top) "
        '<a href="../../../cases/port.md">d</a> [e](https://example.com) [f](#x) [g](notes.txt)'
    )
    assert render_markdown(source, path=LESSON).links == (
        "courses/py/lessons/01-intro.md",
        "courses/py/assets/img/a.png",
        "cases/port.md",
    )


def test_concurrent_renders_keep_their_own_links():
    """Threads rendering different files at once neither crash nor mix up their links."""
    source = "[a](01-a.md) " * 20  # <a> runs html5lib's adoption agency: racy if shared

    def render(n):
        course = f"c{n % 7}"
        return course, render_markdown(source, path=f"courses/{course}/lessons/02-b.md")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # switch threads often, so shared parser state would collide
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(render, range(200)))
    finally:
        sys.setswitchinterval(interval)
    for course, rendered in results:
        assert rendered.links == (f"courses/{course}/lessons/01-a.md",)
        hrefs = {a.get("href") for a in elements(rendered.html, "a")}
        assert hrefs == {f"/courses/{course}/lessons/a"}


def test_user_text_headings_are_nested_and_carry_no_ids():
    """A student's '# Title' cannot become a second h1 or reuse the page's ids (#main, #regrade)."""
    from lms.services.render import render_user_markdown

    html = render_user_markdown("# Main\n\n## Regrade\n\n#### Deep\n\n<h2 id=\"grade-h\">raw</h2>")
    assert "<h4>Main</h4>" in html and "<h5>Regrade</h5>" in html and "<h6>Deep</h6>" in html
    assert "id=" not in html and "<h1" not in html and "<h2" not in html
    assert render_user_markdown("   ") == ""
