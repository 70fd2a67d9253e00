"""HTML -> sections with selectolax (Lexbor, an HTML5-conformant parser).

The content root is the first of ``div[role=main]``, ``div.body`` (Sphinx), ``main``,
``article``, ``[role=main]``, ``body``. Page chrome is dropped: ``script``/``style``/``nav``/
forms, Sphinx's sidebars, "related" bars and ``¶`` header links, ARIA navigation/search
landmarks, and ``header``/``footer`` outside an ``article``/``main``/``section``.

Headings ``h1``-``h6`` open sections (anchor: the heading's ``id``, else the ``id`` of the
``section`` it opens); Sphinx API object descriptions (``dl`` whose first ``dt`` is a
signature with an ``id``, e.g. ``dt#functools.reduce``) open sub-sections headed by the
signature. Tables give one block of ``cell | cell`` lines; ``pre`` keeps its lines.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from promptops.retrieval._sections import OBJECT_LEVEL, SectionBuilder, collapse, verbatim
from promptops.retrieval.parsing import HTML, ParsedDocument, ParseError, decode_text, default_title

_ROOT_SELECTORS = ("div[role=main]", "div.body", "main", "article", "[role=main]", "body")
_DROP_TAGS = (
    "script, style, noscript, template, nav, form, button, select, textarea, input, svg, "
    "iframe, object, canvas"
)
_DROP_SELECTORS = (
    "div.sphinxsidebar, div.related, div.footer, div.mobile-nav, div.menu-wrapper, "
    "a.headerlink, [role=navigation], [role=search], [role=banner], [role=contentinfo]"
)
_CONTENT_CONTAINERS = frozenset({"article", "main", "section"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_INLINE = frozenset(
    {
        "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn",
        "em", "font", "i", "img", "ins", "kbd", "label", "mark", "nobr", "output", "q", "s",
        "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
        "wbr",
    }
)  # fmt: skip
_SKIP = frozenset({"-comment", "hr", "img", "head", "meta", "link", "title", "base"})


def _declared_charset(data: bytes) -> str | None:
    """The charset a ``<meta>`` declares (HTML's prescan, done here by the parser itself)."""
    tree = LexborHTMLParser(data.decode("latin-1"))
    for meta in tree.css("meta"):
        attrs = meta.attributes
        if attrs.get("charset"):
            return str(attrs["charset"]).strip()
        if str(attrs.get("http-equiv") or "").lower() == "content-type":
            for param in str(attrs.get("content") or "").split(";"):
                key, _, value = param.partition("=")
                if key.strip().lower() == "charset" and value.strip():
                    return value.strip().strip("\"'")
    return None


def _decode(source: str, data: bytes, charset: str | None) -> str:
    try:
        return decode_text(source, data, charset)
    except ParseError:
        declared = None if charset else _declared_charset(data)
        if declared is None:
            raise
        return decode_text(source, data, declared)


def _classes(node: LexborNode) -> list[str]:
    return str(node.attributes.get("class") or "").split()


def _text(node: LexborNode) -> str:
    return collapse(node.text(deep=True))


def _first_heading_of_parent(node: LexborNode) -> bool:
    parent = node.parent
    if parent is None or parent.tag not in _CONTENT_CONTAINERS:
        return False
    for child in parent.iter():
        if child.tag in _HEADINGS:
            return child.mem_id == node.mem_id
    return False


class _Walker:
    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder

    def container(self, node: LexborNode) -> None:
        """Blocks of ``node``'s children; runs of inline content become one block each."""
        inline: list[str] = []
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                inline.append(child.text_content or "")
            elif tag == "br":
                inline.append(" ")
            elif tag in _INLINE:
                inline.append(child.text(deep=True))
            elif tag in _SKIP or tag is None:
                continue
            else:
                self.builder.add(collapse("".join(inline)))
                inline.clear()
                self.block(child)
        self.builder.add(collapse("".join(inline)))

    def block(self, node: LexborNode) -> None:
        tag = node.tag or ""
        if tag in _HEADINGS:
            anchor = node.id or (
                node.parent.id if node.parent and _first_heading_of_parent(node) else None
            )
            self.builder.heading(_HEADINGS[tag], _text(node), anchor or None)
        elif tag in _CONTENT_CONTAINERS:
            depth = self.builder.depth
            self.container(node)
            self.builder.close(depth)
        elif tag == "dl":
            self.definition_list(node)
        elif tag == "pre":
            self.builder.add(verbatim(node.text(deep=True)))
        elif tag == "table":
            self.table(node)
        else:
            self.container(node)

    def definition_list(self, node: LexborNode) -> None:
        terms = [child for child in node.iter() if child.tag == "dt"]
        if not terms or "sig" not in _classes(terms[0]) or not terms[0].id:
            self.container(node)
            return
        # A Sphinx object description: signature(s) in dt, body in dd.
        level = max(self.builder.level, OBJECT_LEVEL - 1) + 1
        depth = self.builder.open(level, _text(terms[0]), terms[0].id)
        added = self.builder.added
        for child in node.iter():
            if child.tag == "dd":
                self.container(child)
            elif child.tag == "dt" and child.mem_id != terms[0].mem_id:
                self.builder.add(_text(child))
        if self.builder.added == added:
            self.builder.add(_text(terms[0]))  # an object with no description: its signature
        self.builder.close(depth)

    def table(self, node: LexborNode) -> None:
        caption = node.css_first("caption")
        if caption is not None:
            self.builder.add(_text(caption))
        rows = []
        for row in node.css("tr"):
            cells = [_text(cell) for cell in row.iter() if cell.tag in ("td", "th")]
            line = " | ".join(cell for cell in cells if cell)
            if line:
                rows.append(line)
        self.builder.add("\n".join(rows))


def parse_html(source: str, data: bytes, charset: str | None) -> ParsedDocument:
    """Sections of an HTML page (see the module docstring).

    Raises:
        ParseError: If the bytes do not decode (BOM, ``charset``, UTF-8, then ``<meta>``).
    """
    tree = LexborHTMLParser(_decode(source, data, charset))
    root = next((n for s in _ROOT_SELECTORS if (n := tree.css_first(s)) is not None), None)
    if root is None:
        root = tree.root
    if root is None:
        return ParsedDocument(source, default_title(source), HTML, ())
    # Innermost first: decomposing a node frees its descendants.
    for node in reversed(root.css(f"{_DROP_TAGS}, {_DROP_SELECTORS}")):
        node.decompose()
    for node in reversed(root.css("header, footer")):
        ancestor = node.parent
        while ancestor is not None and ancestor.tag not in _CONTENT_CONTAINERS:
            ancestor = ancestor.parent
        if ancestor is None:
            node.decompose()
    h1 = root.css_first("h1")
    page_title = tree.css_first("title")
    title = (
        (_text(h1) if h1 is not None else "")
        or (_text(page_title) if page_title is not None else "")
        or default_title(source)
    )
    builder = SectionBuilder(title)
    _Walker(builder).block(root)
    return ParsedDocument(source, title, HTML, builder.sections())
