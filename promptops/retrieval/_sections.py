"""Assemble sections from a parser's walk: headings open sections, blocks fill them."""

from __future__ import annotations

from dataclasses import dataclass

from promptops.retrieval.parsing import Section

# Object descriptions (a function, a class...) nest below every heading level.
OBJECT_LEVEL = 7


def collapse(text: str) -> str:
    """``text`` with every whitespace run replaced by one space, stripped."""
    return " ".join(text.split())


def verbatim(text: str) -> str:
    """A code block's text: trailing spaces and blank edge lines removed, lines kept."""
    lines = [line.rstrip() for line in text.expandtabs(8).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def blocks_of_plain_text(text: str) -> list[str]:
    """Paragraphs of plain text: runs of non-blank lines, each line right-stripped."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


@dataclass
class _Open:
    level: int
    heading: str
    anchor: str | None


class SectionBuilder:
    """Collects blocks under the current heading stack and cuts them into sections.

    Headings from flat markup (Markdown, HTML ``h1``-``h6``) go through :meth:`heading`,
    which closes open headings of the same or a deeper level; nested structures (reST
    sections, HTML ``<section>``, API object descriptions) use :meth:`open` / :meth:`close`.
    Text that follows a closed sub-section becomes a new section with the parent's heading
    path and anchor, so sections stay in reading order.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self._stack: list[_Open] = []
        self._blocks: list[str] = []
        self._sections: list[Section] = []
        self._added = 0

    @property
    def depth(self) -> int:
        """Number of open headings (pass to :meth:`close`)."""
        return len(self._stack)

    @property
    def level(self) -> int:
        """Level of the innermost open heading (0 when none)."""
        return self._stack[-1].level if self._stack else 0

    @property
    def added(self) -> int:
        """Number of blocks added so far (to tell whether a walk added any)."""
        return self._added

    def add(self, block: str) -> None:
        """Append a block (blank ones are ignored)."""
        if block.strip():
            self._blocks.append(block)
            self._added += 1

    def heading(self, level: int, heading: str, anchor: str | None) -> None:
        """A flat heading of ``level`` (1 = ``h1``): closes open ones of level >= ``level``."""
        self._flush()
        while self._stack and self._stack[-1].level >= level:
            self._stack.pop()
        self._stack.append(_Open(level, heading, anchor))

    def open(self, level: int, heading: str, anchor: str | None) -> int:
        """Open a nested section; returns the depth to :meth:`close` back to."""
        depth = len(self._stack)
        self._flush()
        self._stack.append(_Open(level, heading, anchor))
        return depth

    def close(self, depth: int) -> None:
        """Close every heading opened since :attr:`depth` was ``depth``."""
        self._flush()
        del self._stack[depth:]

    def _flush(self) -> None:
        if not self._blocks:
            return
        path = tuple(entry.heading for entry in self._stack if entry.heading)
        if not path or path[0] != self.title:
            path = (self.title, *path)
        anchor = next((e.anchor for e in reversed(self._stack) if e.anchor), None)
        self._sections.append(Section(path, anchor, "\n\n".join(self._blocks)))
        self._blocks = []

    def sections(self) -> tuple[Section, ...]:
        """All sections so far (flushes pending blocks)."""
        self._flush()
        return tuple(self._sections)
