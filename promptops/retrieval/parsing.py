"""Turn a document (HTML, reStructuredText, Markdown, PDF, plain text) into titled sections.

Each format is read by a well-kept parser, never by regular expressions over markup:

* HTML: selectolax (the Lexbor HTML5 parser), see :mod:`promptops.retrieval._html`;
* reStructuredText: docutils, with permissive stand-ins for Sphinx's directives and roles,
  see :mod:`promptops.retrieval._rst`;
* Markdown: markdown-it-py (CommonMark + tables) with mdit-py-plugins' GitHub-style heading
  slugs, see :mod:`promptops.retrieval._markdown`;
* PDF: pypdf, one section per page with anchor ``page=N`` (the PDF open parameter of RFC 8118
  section 3);
* plain text: paragraphs, one section.

A section's ``text`` holds its blocks (paragraphs, list items, code blocks, table rows)
separated by one blank line (``"\\n\\n"``); prose is whitespace-collapsed, code and tables keep
their line breaks. Headings are not repeated inside ``text``: they are in ``heading_path``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePosixPath

from promptops.errors import InvalidInput

__all__ = [
    "HTML",
    "MARKDOWN",
    "MEDIA_TYPES",
    "PDF",
    "PLAIN_TEXT",
    "RST",
    "ParseError",
    "ParsedDocument",
    "Section",
    "guess_media_type",
    "parse_document",
]

HTML = "text/html"
RST = "text/x-rst"
MARKDOWN = "text/markdown"
PDF = "application/pdf"
PLAIN_TEXT = "text/plain"
#: Media types :func:`parse_document` reads (aliases are mapped onto these first).
MEDIA_TYPES = (HTML, RST, MARKDOWN, PDF, PLAIN_TEXT)

_ALIASES = {
    "application/xhtml+xml": HTML,
    "text/prs.fallenstein.rst": RST,
    "text/restructuredtext": RST,
    "text/x-markdown": MARKDOWN,
}


@dataclass(frozen=True)
class Section:
    """One titled part of a document.

    Attributes:
        heading_path: Titles from the document title down to this section, e.g.
            ``("functools — ...", "functools.reduce(function, iterable[, initializer])")``.
            Text before the first heading has ``(title,)``.
        anchor: Fragment that locates the section in the rendered page (``page.html#anchor``):
            the HTML ``id``, the reST label (else docutils' id of the title), the Markdown
            slug, or ``page=N`` for PDF; ``None`` when there is none.
        text: Blocks separated by ``"\\n\\n"``; never empty.
    """

    heading_path: tuple[str, ...]
    anchor: str | None
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed document: its ``source`` (path or URL as given), ``title``, canonical
    ``media_type`` (one of :data:`MEDIA_TYPES`) and ``sections`` in document order."""

    source: str
    title: str
    media_type: str
    sections: tuple[Section, ...]


class ParseError(InvalidInput, ValueError):
    """The input cannot be decoded or parsed; the message names the source.

    A :class:`~promptops.errors.InvalidInput` (HTTP 422, not retryable) and a ``ValueError``.
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message)
        self.source = source


def guess_media_type(source: str) -> str:
    """Media type from a source name (path or URL; case-insensitive).

    ``.html``/``.htm`` -> HTML; ``.rst``, or ``.rst.txt``/``.txt`` under a ``_sources``
    directory (Sphinx's copies of the sources) -> reST; ``.md``/``.markdown`` -> Markdown;
    ``.pdf`` -> PDF; anything else -> plain text.
    """
    path = PurePosixPath(source.split("?", 1)[0].split("#", 1)[0].replace("\\", "/"))
    name = path.name.lower()
    if name.endswith((".html", ".htm", ".xhtml")):
        return HTML
    if name.endswith(".rst") or (name.endswith(".txt") and "_sources" in path.parts[:-1]):
        return RST
    if name.endswith((".md", ".markdown")):
        return MARKDOWN
    if name.endswith(".pdf"):
        return PDF
    return PLAIN_TEXT


def _canonical_media_type(source: str, media_type: str) -> tuple[str, str | None]:
    """``(canonical type, charset parameter or None)`` of a ``Content-Type``-style value.

    Raises:
        ParseError: For a non-text type other than PDF.
    """
    essence, _, params = media_type.partition(";")
    essence = _ALIASES.get(essence.strip().lower(), essence.strip().lower())
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    if essence in MEDIA_TYPES:
        return essence, charset
    if essence.startswith("text/"):
        return PLAIN_TEXT, charset
    raise ParseError(f"{source}: unsupported media type {media_type!r}", source=source)


def decode_text(source: str, data: bytes, charset: str | None = None) -> str:
    """Decode text bytes: a byte-order mark wins, then ``charset``, then UTF-8 (strict).

    Raises:
        ParseError: Naming ``source`` if the bytes do not decode, the charset is unknown or
            the text contains NUL characters (binary data).
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            charset = encoding
            break
    encoding = charset or "utf-8"
    try:
        text = data.decode(encoding)
    except LookupError as exc:
        raise ParseError(f"{source}: unknown charset {encoding!r}", source=source) from exc
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{source}: not valid {encoding} text (byte {exc.start}: {exc.reason})",
            source=source,
        ) from exc
    if "\x00" in text:
        raise ParseError(f"{source}: binary data (NUL characters) in text", source=source)
    return text


def default_title(source: str) -> str:
    """The title of a document that has none: its file name without extensions."""
    name = PurePosixPath(source.split("?", 1)[0].replace("\\", "/")).name
    return name.split(".", 1)[0] or name or source


def _parse_plain_text(source: str, text: str) -> ParsedDocument:
    from promptops.retrieval._sections import blocks_of_plain_text

    blocks = blocks_of_plain_text(text)
    title = default_title(source)
    sections = (Section((title,), None, "\n\n".join(blocks)),) if blocks else ()
    return ParsedDocument(source, title, PLAIN_TEXT, sections)


def _parse_pdf(source: str, data: bytes) -> ParsedDocument:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    from promptops.retrieval._sections import blocks_of_plain_text

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(f"{source}: encrypted PDF", source=source)
        metadata = reader.metadata
        title = (metadata.title if metadata is not None else None) or default_title(source)
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            blocks = blocks_of_plain_text(page.extract_text() or "")
            if blocks:
                sections.append(Section((title,), f"page={number}", "\n\n".join(blocks)))
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises assorted errors (not only PyPdfError) on bad files
        kind = "unreadable PDF" if isinstance(exc, PyPdfError) else "malformed PDF"
        raise ParseError(f"{source}: {kind} ({exc!r})", source=source) from exc
    return ParsedDocument(source, " ".join(str(title).split()), PDF, tuple(sections))


def parse_document(source: str, data: bytes, media_type: str | None = None) -> ParsedDocument:
    """Parse ``data`` into a :class:`ParsedDocument`.

    Args:
        source: Where the bytes come from (path or URL); names the document, gives its media
            type when ``media_type`` is ``None`` (see :func:`guess_media_type`) and its title
            when the content has none. Nothing is read from it: reST ``include`` and ``raw``
            directives are disabled.
        data: The raw bytes.
        media_type: A ``Content-Type`` value (``text/html; charset=latin-1``); a ``charset``
            parameter is honoured for text formats. ``None``: guessed from ``source``.

    Returns:
        The document with its sections in reading order; sections without text are left out.

    Raises:
        ParseError: Naming ``source``, for bytes that do not decode, an unreadable PDF, a
            document the format's parser rejects, or an unsupported media type.
    """
    kind, charset = _canonical_media_type(source, media_type or guess_media_type(source))
    if kind == PDF:
        return _parse_pdf(source, data)
    if kind == HTML:
        from promptops.retrieval._html import parse_html

        return parse_html(source, data, charset)
    text = decode_text(source, data, charset)
    if kind == RST:
        from promptops.retrieval._rst import parse_rst

        return parse_rst(source, text)
    if kind == MARKDOWN:
        from promptops.retrieval._markdown import parse_markdown

        return parse_markdown(source, text)
    return _parse_plain_text(source, text)
