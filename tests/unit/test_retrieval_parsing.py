"""promptops.retrieval.parsing on the real Python 3.11 docs (Debian's python3.11-doc) and on
small Markdown, PDF, plain-text and reST inputs made here."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from docutils import nodes
from docutils.core import publish_doctree

from promptops.errors import InvalidInput
from promptops.retrieval.parsing import (
    HTML,
    MARKDOWN,
    PDF,
    PLAIN_TEXT,
    RST,
    ParsedDocument,
    ParseError,
    guess_media_type,
    parse_document,
)

CORPUS = Path("/usr/share/doc/python3.11/html")
SOURCES = CORPUS / "_sources"
# Chrome of every page of the Sphinx theme, outside the content.
NAV_TEXT = ("Previous topic", "Next topic", "This Page", "Report a Bug", "Show Source")


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not SOURCES.is_dir():
        pytest.skip(f"{CORPUS} missing: `apt-get install python3.11-doc` provides the corpus")
    return CORPUS


def _parse_file(path: Path) -> ParsedDocument:
    return parse_document(str(path), path.read_bytes())


class _SignatureIds(HTMLParser):
    """Oracle independent of selectolax: ids of the first signature ``dt`` of each ``dl``
    (an object with several signatures is one section, anchored by the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self._seen_dt: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "dl":
            self._seen_dt.append(False)
        elif tag == "dt" and self._seen_dt and not self._seen_dt[-1]:
            self._seen_dt[-1] = True
            if "sig" in (values.get("class") or "").split() and values.get("id"):
                self.ids.append(str(values["id"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "dl" and self._seen_dt:
            self._seen_dt.pop()


def _signature_ids(path: Path) -> list[str]:
    oracle = _SignatureIds()
    oracle.feed(path.read_text(encoding="utf-8"))
    return oracle.ids


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("library/functools.html", HTML),
        ("https://example.org/a/page.HTM?x=1", HTML),
        ("/usr/share/doc/python3.11/html/_sources/library/functools.rst.txt", RST),
        ("docs/index.rst", RST),
        ("notes/readme.txt", PLAIN_TEXT),
        ("README.md", MARKDOWN),
        ("paper.pdf", PDF),
        ("data.csv", PLAIN_TEXT),
    ],
)
def test_media_type_is_guessed_from_the_source_name(source: str, expected: str) -> None:
    assert guess_media_type(source) == expected


# --------------------------------------------------------------------------- HTML


def test_html_sections_follow_headings_and_api_objects(corpus: Path) -> None:
    path = corpus / "library/functools.html"
    doc = _parse_file(path)
    title = "functools — Higher-order functions and operations on callable objects"
    assert doc.title == title
    assert doc.media_type == HTML
    by_anchor = {section.anchor: section for section in doc.sections}
    reduce = by_anchor["functools.reduce"]
    assert reduce.heading_path == (title, "functools.reduce(function, iterable[, initializer])")
    assert "cumulatively to the items of iterable" in reduce.text
    func = by_anchor["functools.partial.func"]
    assert func.heading_path == (title, "partial Objects", "partial.func")
    assert by_anchor["partial-objects"].heading_path == (title, "partial Objects")
    # Every API object of the page is a section, anchored by its id.
    assert set(_signature_ids(path)) <= set(by_anchor)


def test_html_drops_navigation_and_header_links(corpus: Path) -> None:
    doc = _parse_file(corpus / "library/functools.html")
    text = "\n".join(section.text for section in doc.sections)
    for chrome in NAV_TEXT:
        assert chrome not in text
    assert "¶" not in text and all("¶" not in h for s in doc.sections for h in s.heading_path)
    assert "New in version 3.9." in text  # admonition-like content stays


def test_html_keeps_code_lines_and_table_rows(corpus: Path) -> None:
    doc = _parse_file(corpus / "library/functools.html")
    cache = next(s for s in doc.sections if s.anchor == "functools.cache")
    assert "@cache\ndef factorial(n):\n    return n * factorial(n-1) if n else 1" in cache.text
    table_doc = _parse_file(corpus / "library/stdtypes.html")
    text = "\n".join(section.text for section in table_doc.sections)
    assert "Operation | Result | Notes\nx or y | if x is false, then y, else x | (1)" in text


def test_html_charset_from_meta_when_not_utf8() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><h1>Café</h1><p>Crème brûlée.</p>'
    doc = parse_document("menu.html", page.encode("latin-1"))
    assert doc.title == "Café"
    assert doc.sections[0].text == "Crème brûlée."


def test_html_without_sections_elements_uses_heading_levels() -> None:
    page = b"""<html><body><nav>Home | About</nav><header>Site name</header>
    <main><h1 id="top">Guide</h1><p>Intro.</p><h2 id="a">Part A</h2><p>Alpha.</p>
    <h3>Detail</h3><p>Deep.</p><h2 id="b">Part B</h2><ul><li>One</li><li>Two</li></ul>
    </main><footer>Copyright</footer></body></html>"""
    doc = parse_document("guide.html", page)
    assert [(s.heading_path, s.anchor, s.text) for s in doc.sections] == [
        (("Guide",), "top", "Intro."),
        (("Guide", "Part A"), "a", "Alpha."),
        (("Guide", "Part A", "Detail"), "a", "Deep."),
        (("Guide", "Part B"), "b", "One\n\nTwo"),
    ]


# --------------------------------------------------------------------------- reST


def test_rst_sections_and_api_anchors_match_the_rendered_html(corpus: Path) -> None:
    doc = _parse_file(SOURCES / "library/functools.rst.txt")
    html = _parse_file(corpus / "library/functools.html")
    assert doc.media_type == RST
    assert doc.title == html.title  # `---` became an em dash, as Sphinx renders it
    anchors = {section.anchor for section in doc.sections}
    assert set(_signature_ids(corpus / "library/functools.html")) <= anchors
    assert "partial-objects" in anchors  # the reST label of "partial Objects"
    reduce = next(s for s in doc.sections if s.anchor == "functools.reduce")
    assert reduce.heading_path == (doc.title, "reduce(function, iterable[, initializer])")


def test_rst_keeps_sphinx_directive_content_and_role_text(corpus: Path) -> None:
    doc = _parse_file(SOURCES / "library/functools.rst.txt")
    by_anchor = {section.anchor: section.text for section in doc.sections}
    cache = by_anchor["functools.cache"]
    assert "smaller and faster than lru_cache() with a size limit" in cache  # :func:
    assert cache.endswith("New in version 3.9.")  # .. versionadded:: 3.9
    assert (
        "Changed in version 3.8: Added the user_function option."
        in by_anchor["functools.lru_cache"]
    )
    assert "Roughly equivalent to:" in by_anchor["functools.partial"]
    lines = [line.strip() for text in by_anchor.values() for line in text.split("\n")]
    assert not [line for line in lines if line.startswith(".. ") or ":func:`" in line]
    assert not [line for line in lines if "import functools" in line]  # .. testsetup::


def test_rst_api_anchors_across_domains(corpus: Path) -> None:
    for page in ("c-api/structures", "library/trace", "using/cmdline", "library/dis"):
        doc = _parse_file(SOURCES / f"{page}.rst.txt")
        anchors = {section.anchor for section in doc.sections}
        expected = set(_signature_ids(corpus / f"{page}.html"))
        assert len(expected & anchors) >= 0.95 * len(expected), page


RST_SAMPLE = """\
Sample module
=============

.. module:: sample
   :synopsis: For tests.

Intro with :ref:`a title <some-label>`, :meth:`~sample.Widget.spin` and :gh:`1234`,
:unknownrole:`kept text` and |undefined| substitution.

.. index:: single: hidden index entry

.. class:: Widget(size)

   A widget.

   .. method:: spin(speed)

      Spins it.

      .. versionchanged:: 3.12 Faster.

   .. deprecated-removed:: 3.10 3.14
      Use :func:`spin` instead.

.. c:type:: PyWidget

   .. c:member:: int size

      The size.

.. program:: widgetctl

.. cmdoption:: -v, --verbose

   Talk more.

.. audit-event:: sample.open path,mode sample.open

.. frobnicate:: unknown directive argument

   Content of an unknown extension directive.

.. include:: {secret_file}

.. raw:: html

   <b>raw html secret</b>

After everything.
"""


def test_rst_sphinx_markup_is_read_without_crashing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("included file secret")
    text = RST_SAMPLE.replace("{secret_file}", str(secret))
    doc = parse_document(str(tmp_path / "sample.rst"), text.encode())
    by_anchor = {section.anchor: section for section in doc.sections}
    assert by_anchor["sample.Widget"].heading_path == ("Sample module", "Widget(size)")
    spin = by_anchor["sample.Widget.spin"]
    assert spin.heading_path == ("Sample module", "Widget(size)", "spin(speed)")
    assert spin.text == "Spins it.\n\nChanged in version 3.12: Faster."
    assert (
        "Deprecated since version 3.10, will be removed in version 3.14: Use spin() instead."
        in (by_anchor["sample.Widget"].text)
    )
    assert by_anchor["c.PyWidget.size"].text == "The size."
    assert by_anchor["cmdoption-widgetctl-v"].text == "Talk more."
    all_text = "\n".join(section.text for section in doc.sections)
    assert "Intro with a title, spin() and gh-1234, kept text and |undefined|" in all_text
    assert "Raises an auditing event sample.open with arguments path, mode." in all_text
    assert "Content of an unknown extension directive." in all_text
    assert all_text.endswith("After everything.")
    for absent in ("hidden index entry", "included file secret", "raw html secret", "secret.txt"):
        assert absent not in all_text


def test_rst_stand_ins_do_not_leak_into_docutils(tmp_path: Path) -> None:
    parse_document("a.rst", b".. function:: f()\n\n   Body.\n")
    document = publish_doctree(
        ".. function:: f()\n\n   Body.\n",
        settings_overrides={"report_level": 5, "_disable_config": True},
    )
    messages = [m.astext() for m in document.findall(nodes.system_message)]
    assert any('Unknown directive type "function"' in message for message in messages)


# --------------------------------------------------------------------------- Markdown, PDF, text

MARKDOWN_SAMPLE = """\
Preamble line.

# User guide

Read *this* first, with `code` and [a link](https://example.org).

## Install

1. Download
2. Run `setup`

```python
def main():
    return 0
```

| option | meaning |
|--------|---------|
| -v     | verbose |

## Install
Again.
"""


def test_markdown_headings_slugs_code_and_tables() -> None:
    doc = parse_document("docs/guide.md", MARKDOWN_SAMPLE.encode())
    assert doc.title == "User guide"
    assert [(s.heading_path, s.anchor) for s in doc.sections] == [
        (("User guide",), None),
        (("User guide",), "user-guide"),
        (("User guide", "Install"), "install"),
        (("User guide", "Install"), "install-1"),
    ]
    assert doc.sections[1].text == "Read this first, with code and a link."
    assert doc.sections[2].text == (
        "Download\n\nRun setup\n\ndef main():\n    return 0\n\noption | meaning\n-v | verbose"
    )


def _pdf(pages: list[str], title: str) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setTitle(title)
    for text in pages:
        pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_pdf_has_one_section_per_page_anchored_by_page_number() -> None:
    data = _pdf(["First page about retrieval.", "", "Third page on chunking."], "Notes")
    doc = parse_document("notes.pdf", data)
    assert doc.media_type == PDF and doc.title == "Notes"
    assert [(s.heading_path, s.anchor, s.text) for s in doc.sections] == [
        (("Notes",), "page=1", "First page about retrieval."),
        (("Notes",), "page=3", "Third page on chunking."),
    ]


def test_plain_text_is_one_section_of_paragraphs() -> None:
    doc = parse_document("notes/todo.txt", b"First line\nsecond line\n\n\n  Next para.  \n")
    assert doc.title == "todo"
    assert doc.sections == (doc.sections[0],)
    assert doc.sections[0].text == "First line\nsecond line\n\n  Next para."
    assert doc.sections[0].heading_path == ("todo",) and doc.sections[0].anchor is None


@pytest.mark.parametrize(
    ("source", "data", "media_type"),
    [
        ("bad.rst", b"Title\n=====\n\n\xff\xfe broken", None),
        ("bad.md", b"# \xc3\x28", None),
        ("bad.txt", b"ok\x00binary", None),
        ("bad.html", b"<p>\xff</p>", None),
        ("bad.pdf", b"%PDF-1.4 not really a pdf", None),
        ("image.png", b"\x89PNG", "image/png"),
        ("latin.txt", b"caf\xe9", "text/plain; charset=no-such-charset"),
    ],
)
def test_undecodable_or_unparsable_input_raises_parse_error_naming_the_source(
    source: str, data: bytes, media_type: str | None
) -> None:
    with pytest.raises(ParseError, match=source.replace(".", r"\.")) as raised:
        parse_document(source, data, media_type)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, InvalidInput)
    assert raised.value.source == source


def test_charset_parameter_of_the_media_type_is_honoured() -> None:
    doc = parse_document("menu", "Crème brûlée".encode("latin-1"), "text/plain; charset=latin-1")
    assert doc.sections[0].text == "Crème brûlée"


# --------------------------------------------------------------------------- whole corpus


def test_whole_html_corpus_parses_without_chrome(corpus: Path) -> None:
    pages = sorted(p for p in corpus.rglob("*.html") if "_sources" not in p.parts)
    assert len(pages) > 500
    for page in pages:
        doc = _parse_file(page)
        assert doc.title and doc.sections, page
        for section in doc.sections:
            assert section.text.strip() and section.heading_path[0] == doc.title
            assert "¶" not in section.text and "Previous topic" not in section.text, page


def test_sampled_rst_sources_parse_with_no_raw_sphinx_markup(corpus: Path) -> None:
    sources = sorted(SOURCES.rglob("*.rst.txt"))
    assert len(sources) > 450
    # Every 8th file (62 of 497): the whole set takes about a minute on two cores.
    for source in sources[::8]:
        doc = _parse_file(source)
        assert doc.title and doc.sections, source
        for section in doc.sections:
            for line in section.text.split("\n"):
                stripped = line.strip()
                assert not (stripped.startswith(".. ") and "::" in stripped), (source, line)
