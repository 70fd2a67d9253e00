"""Markdown -> sections with markdown-it-py (CommonMark, plus GFM tables and strikethrough).

Headings of every level open sections, anchored by GitHub-style slugs from mdit-py-plugins'
``anchors_plugin`` (``## Partial objects`` -> ``partial-objects``; repeats get ``-1``,
``-2``). Paragraphs, list items and block quotes give one block per paragraph; fenced and
indented code keep their lines; a table gives one block of ``cell | cell`` lines; raw HTML
blocks give their text (read with selectolax).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from selectolax.lexbor import LexborHTMLParser

from promptops.retrieval._sections import SectionBuilder, collapse, verbatim
from promptops.retrieval.parsing import MARKDOWN, ParsedDocument, default_title


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    anchors_plugin(md, min_level=1, max_level=6)
    return md


_MD = _markdown()


def _inline_text(token: Token) -> str:
    """Plain text of an ``inline`` token: text, code spans and image alt texts."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return collapse("".join(parts))


def _html_text(fragment: str) -> str:
    tree = LexborHTMLParser(fragment)
    for node in reversed(tree.css("script, style")):
        node.decompose()
    return collapse(tree.body.text(deep=True)) if tree.body is not None else ""


def parse_markdown(source: str, text: str) -> ParsedDocument:
    """Sections of a Markdown document (see the module docstring); never raises."""
    tokens = _MD.parse(text)
    title = next(
        (
            _inline_text(tokens[i + 1])
            for i, token in enumerate(tokens)
            if token.type == "heading_open" and token.tag == "h1" and i + 1 < len(tokens)
        ),
        "",
    ) or default_title(source)
    builder = SectionBuilder(title)
    row: list[str] | None = None
    rows: list[str] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = _inline_text(tokens[index + 1]) if index + 1 < len(tokens) else ""
            anchor = token.attrGet("id")
            builder.heading(int(token.tag[1:]), heading, str(anchor) if anchor else None)
        elif token.type == "inline":
            previous = tokens[index - 1].type if index else ""
            if previous == "heading_open":
                continue
            if row is not None:
                row.append(_inline_text(token))
            else:
                builder.add(_inline_text(token))
        elif token.type in ("fence", "code_block"):
            builder.add(verbatim(token.content))
        elif token.type == "html_block":
            builder.add(_html_text(token.content))
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            line = " | ".join(cell for cell in row if cell)
            if line:
                rows.append(line)
            row = None
        elif token.type == "table_close":
            builder.add("\n".join(rows))
            rows = []
    return ParsedDocument(source, title, MARKDOWN, builder.sections())
