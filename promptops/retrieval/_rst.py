"""reStructuredText -> sections with docutils, tolerant of Sphinx's markup.

Sphinx's directives and roles are read through the stand-ins of
:mod:`promptops.retrieval._sphinx`. Sections come from docutils' nested ``section`` nodes
(anchor: the section's explicit label, else docutils' id of its title) and API object
descriptions (anchor: Sphinx's id, ``functools.reduce``); the document title is the first
section title. Code keeps its lines, a table gives ``cell | cell`` lines, generated tables of
contents and comments are left out. Nothing is read from disk: ``include``/``raw`` are
disabled (``file_insertion_enabled``/``raw_enabled``).
"""

from __future__ import annotations

import io

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, Parser, directives, languages

from promptops.retrieval._sections import OBJECT_LEVEL, SectionBuilder, collapse, verbatim
from promptops.retrieval._sphinx import (
    Context,
    Desc,
    Labelled,
    PermissiveInliner,
    sphinx_directives,
)
from promptops.retrieval.parsing import RST, ParsedDocument, ParseError, default_title

_SKIPPED = (nodes.Invisible, nodes.system_message, nodes.raw, nodes.substitution_definition)


def _section_anchor(section: nodes.Element, document: nodes.document) -> str | None:
    """A section's explicit label (``.. _label:``) if it has one, else docutils' id."""
    for name in section["names"]:
        if document.nametypes.get(name) and document.nameids.get(name):
            return str(document.nameids[name])
    ids = section["ids"]
    return str(ids[0]) if ids else None


class _Walker:
    def __init__(self, builder: SectionBuilder, document: nodes.document) -> None:
        self.builder = builder
        self.document = document
        self.level = 0

    def children(self, node: nodes.Element, start: int = 0) -> None:
        for child in node.children[start:]:
            self.node(child)

    def node(self, node: nodes.Node) -> None:
        if isinstance(node, _SKIPPED):
            return
        if isinstance(node, nodes.section):
            title = node.children[0] if node.children else None
            heading = collapse(title.astext()) if isinstance(title, nodes.title) else ""
            self.nested(heading, _section_anchor(node, self.document), node, 1)
        elif isinstance(node, Desc):
            self.nested(collapse(node["signature"]), node["anchor"], node, 0)
        elif isinstance(node, nodes.topic) and "contents" in node["classes"]:
            return  # a generated table of contents
        elif isinstance(node, (nodes.literal_block, nodes.doctest_block)):
            self.builder.add(verbatim(node.astext()))
        elif isinstance(node, nodes.table):
            self.table(node)
        elif isinstance(node, nodes.TextElement):
            self.builder.add(collapse(node.astext()))
        elif isinstance(node, nodes.Element):
            self.children(node)
        elif isinstance(node, nodes.Text):
            self.builder.add(collapse(node.astext()))

    def nested(self, heading: str, anchor: str | None, node: nodes.Element, skip: int) -> None:
        self.level += 1
        level = self.level if isinstance(node, nodes.section) else OBJECT_LEVEL + self.level
        depth = self.builder.open(level, heading, anchor)
        added = self.builder.added
        self.children(node, skip)
        if isinstance(node, Desc) and self.builder.added == added:
            self.builder.add(heading)  # an object with no description: its signature says it
        self.builder.close(depth)
        self.level -= 1

    def table(self, node: nodes.table) -> None:
        for title in node.findall(nodes.title):
            self.builder.add(collapse(title.astext()))
        rows = []
        for row in node.findall(nodes.row):
            cells = [collapse(entry.astext()) for entry in row.children]
            line = " | ".join(cell for cell in cells if cell)
            if line:
                rows.append(line)
        self.builder.add("\n".join(rows))


def _unknown_directives(document: nodes.document) -> set[str]:
    """Names of the directives docutils reported as unknown.

    docutils answers an unknown directive with an error that quotes the directive's source
    (a literal block starting ``.. name::``); the name is read from that quote.
    """
    names = set()
    english = languages.get_language("en")
    for message in document.findall(nodes.system_message):
        for quoted in message.findall(nodes.literal_block):
            first_line = quoted.astext().split("\n", 1)[0]
            if first_line.startswith(".. ") and "::" in first_line:
                name = first_line[3:].split("::", 1)[0].strip().lower()
                # Known directives quote themselves too (a disabled `raw`, a bad option).
                known = directives.directive(name, english, document)[0]  # type: ignore[arg-type]  # the rst language module is what docutils passes here too (states.Body.directive)
                if known is None:
                    names.add(name)
    return names


def _publish(source: str, text: str, extra: dict[str, type[Directive]]) -> nodes.document:
    settings = {
        "report_level": 5,
        "halt_level": 5,
        "warning_stream": io.StringIO(),
        "traceback": True,
        "file_insertion_enabled": False,
        "raw_enabled": False,
        "doctitle_xform": False,
        "docinfo_xform": False,
        "sectsubtitle_xform": False,
        "smart_quotes": True,  # as Sphinx: `---` is an em dash, quotes curl
        "syntax_highlight": "none",
        "line_length_limit": 1_000_000,
        "language_code": "en",
        "_disable_config": True,
        "promptops_rst_context": Context(),
    }
    parser = Parser(inliner=PermissiveInliner())
    try:
        with sphinx_directives(extra):
            document: nodes.document = publish_doctree(
                text, source_path=source, parser=parser, settings_overrides=settings
            )
    except Exception as exc:  # docutils raises assorted errors on pathological input
        raise ParseError(f"{source}: reStructuredText parse failed ({exc})", source=source) from exc
    return document


def parse_rst(source: str, text: str) -> ParsedDocument:
    """Sections of a reST document (see the module docstring).

    Directives neither docutils nor the stand-ins know (a Sphinx extension's ``tab-set``...)
    are read as plain containers on a second parse, so their argument and content keep their
    text.

    Raises:
        ParseError: If docutils fails on the input (it reports, rather than raises, for
            markup errors: those keep their text).
    """
    document = _publish(source, text, {})
    unknown = _unknown_directives(document)
    if unknown:
        document = _publish(source, text, dict.fromkeys(unknown, Labelled))
    first = document.next_node(nodes.section)
    first_title = first.next_node(nodes.title) if first is not None else None
    title = collapse(first_title.astext()) if first_title is not None else ""
    title = title or default_title(source)
    builder = SectionBuilder(title)
    _Walker(builder, document).children(document)
    return ParsedDocument(source, title, RST, builder.sections())
