"""reStructuredText -> sections with docutils, tolerant of Sphinx's markup.

docutils knows neither Sphinx's directives (``.. function::``, ``.. versionadded::``...) nor
its roles (``:func:``, ``:ref:``...). Left alone it reports them as errors and keeps only their
raw source. Here, for the length of one parse (under a lock, as Sphinx's own
``docutils_namespace`` does), stand-ins are registered for the directives Sphinx and the
CPython documentation define:

* API object descriptions (``function``, ``class``, ``c:function``, ``envvar``...) become
  sub-sections headed by their first signature, anchored by the id Sphinx gives them
  (``functools.reduce``, ``c.PyList_New``, ``cmdoption-trace-c``), following the Python domain's
  naming (module from ``.. module::``/``.. currentmodule::``, nesting inside a class);
* ``versionadded``/``versionchanged``/``deprecated``/``seealso``/``impl-detail``/
  ``availability``/``audit-event`` keep their text with the label Sphinx renders
  ("New in version 3.9: ...");
* code directives keep their content verbatim; ``toctree``, ``index``, ``testsetup``,
  ``literalinclude`` and similar produce nothing (they render no prose);
* any other registered Sphinx directive keeps its argument and content as body text.

Unknown roles become their text (``:func:`~functools.reduce``` -> ``reduce()``,
``:ref:`text <label>``` -> ``text``) through a custom :class:`Inliner`. Nothing is read from
disk: ``include``/``raw`` are disabled (``file_insertion_enabled``/``raw_enabled``).
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from docutils import nodes, utils
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, Parser, directives, roles
from docutils.parsers.rst.states import Inliner

from promptops.retrieval._sections import OBJECT_LEVEL, SectionBuilder, collapse, verbatim
from promptops.retrieval.parsing import RST, ParsedDocument, ParseError, default_title


class _AnyOptions(dict[str, Callable[[str | None], Any]]):
    """An ``option_spec`` that accepts every option (Sphinx adds ``:noindex:``, ``:type:``...)."""

    def __missing__(self, key: str) -> Callable[[str | None], Any]:
        return directives.unchanged


_ANY_OPTIONS = _AnyOptions({"noindex": directives.unchanged})


@dataclass
class _Context:
    """Sphinx's ``ref_context`` for one document: current module, class and program."""

    module: str | None = None
    scopes: list[str] = field(default_factory=list)
    program: str | None = None


def _context(directive: Directive) -> _Context:
    context: _Context = directive.state.document.settings.promptops_rst_context
    return context


class _Desc(nodes.General, nodes.Element):
    """An API object description: ``signature`` (heading) and ``anchor`` attributes."""


def _sphinx_make_id(text: str) -> str:
    """Sphinx's ``sphinx.util.nodes._make_id``: docutils' ``make_id`` keeping case, ``.``, ``_``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-zA-Z0-9._]+", "-", " ".join(ascii_text.split()))
    return re.sub(r"^[-0-9._]+|-+$", "", text)


def _head(signature: str) -> str:
    """The name part of a signature: before any ``(`` or ``[``, last whitespace-separated word."""
    head = signature.split("(", 1)[0].split("[", 1)[0].strip()
    words = head.replace("*", " ").replace("&", " ").split()
    return words[-1] if words else ""


class _Description(Directive):
    """Sphinx's ``ObjectDescription`` (py/c/std domains): a sub-section per object."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = _ANY_OPTIONS  # type: ignore[assignment]  # accepts None

    def run(self) -> list[nodes.Node]:
        context = _context(self)
        signatures = [s.strip() for s in self.arguments[0].split("\n") if s.strip()]
        domain, _, kind = self.name.lower().rpartition(":")
        anchor, scope = self._anchor(context, domain or _DEFAULT_DOMAIN.get(kind, "py"), kind,
                                     signatures[0] if signatures else "")  # fmt: skip
        node = _Desc(signature=signatures[0] if signatures else kind, anchor=anchor)
        for other in signatures[1:]:
            node += nodes.paragraph(other, other)
        if scope is not None:
            context.scopes.append(scope)
        try:
            self.state.nested_parse(self.content, self.content_offset, node)
        finally:
            if scope is not None:
                context.scopes.pop()
        return [node]

    def _anchor(
        self, context: _Context, domain: str, kind: str, signature: str
    ) -> tuple[str | None, str | None]:
        """``(anchor, scope for nested objects or None)`` as Sphinx computes them."""
        name = _head(signature)
        if domain == "py" and name:
            prefix, _, base = name.rpartition(".")
            current = context.scopes[-1] if context.scopes else None
            if current and prefix and (prefix == current or prefix.startswith(current + ".")):
                fullname = name
            elif current:
                fullname = f"{current}.{name}" if prefix else f"{current}.{base}"
            else:
                fullname = name
            module = self.options.get("module") or context.module
            anchor = f"{module}.{fullname}" if module else fullname
            return anchor, (fullname if kind in ("class", "exception") else None)
        if domain == "c" and name:
            qualified = ".".join([*context.scopes[-1:], name])
            return f"c.{qualified}", (qualified if kind in _C_SCOPES else None)
        if kind in ("cmdoption", "option"):
            option = signature.split(",", 1)[0].split()
            prefix = f"cmdoption-{context.program}" if context.program else "cmdoption"
            return _sphinx_make_id(f"{prefix}-{option[0] if option else ''}") or None, None
        if kind in _STD_PREFIXES and signature:
            word = signature.split()[0].split("(", 1)[0] if kind == "opcode" else signature
            if kind == "pdbcommand":
                word = signature.split()[0].replace("(", "").replace(")", "")
            return _sphinx_make_id(f"{_STD_PREFIXES[kind]}-{word}") or None, None
        return None, None


_C_SCOPES = frozenset({"type", "struct", "union", "enum"})
_STD_PREFIXES = {
    "envvar": "envvar",
    "opcode": "opcode",
    "pdbcommand": "pdbcommand",
    "2to3fixer": "2to3fixer",
    "monitoring-event": "monitoring-event",
}
_DEFAULT_DOMAIN = {kind: "std" for kind in (*_STD_PREFIXES, "cmdoption", "option", "describe")}
_DEFAULT_DOMAIN["object"] = "std"


class _SetContext(Directive):
    """``module``/``currentmodule``/``program``: change the naming context, render nothing."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = _ANY_OPTIONS  # type: ignore[assignment]  # accepts None

    def run(self) -> list[nodes.Node]:
        context = _context(self)
        argument = self.arguments[0].strip() if self.arguments else ""
        value = None if argument in ("", "None") else argument
        if self.name.endswith("program"):
            context.program = value
        else:
            context.module = value
            context.scopes.clear()
        return []


class _Nothing(Directive):
    """Directives that render no prose (``toctree``, ``index``, ``testsetup``...)."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = _ANY_OPTIONS  # type: ignore[assignment]  # accepts None

    def run(self) -> list[nodes.Node]:
        return []


class _Literal(Directive):
    """Code directives (``code-block``, ``doctest``, ``productionlist``...): verbatim text."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = _ANY_OPTIONS  # type: ignore[assignment]  # accepts None

    def run(self) -> list[nodes.Node]:
        text = "\n".join(self.content)
        if self.name == "productionlist" and self.arguments:
            text = "\n".join(filter(None, (self.arguments[0], text)))
        return [nodes.literal_block(text, text)] if text.strip() else []


class _Labelled(Directive):
    """Body text with Sphinx's label: ``New in version 3.9: ...``, ``See also: ...``.

    The label's format takes the directive's arguments; free text after them (on the
    directive line, as in ``.. versionadded:: 3.2 The *typed* option.``) and the content
    follow it.
    """

    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = _ANY_OPTIONS  # type: ignore[assignment]  # accepts None
    labels: ClassVar[dict[str, tuple[int, str]]] = {
        # directive: (arguments the label takes, label format)
        "versionadded": (1, "New in version {0}"),
        "versionchanged": (1, "Changed in version {0}"),
        "versionremoved": (1, "Removed in version {0}"),
        "deprecated": (1, "Deprecated since version {0}"),
        "deprecated-removed": (2, "Deprecated since version {0}, will be removed in version {1}"),
        "seealso": (0, "See also"),
        "impl-detail": (0, "CPython implementation detail"),
        "availability": (0, "Availability"),
        "audit-event": (1, "Raises an auditing event {0}"),
    }

    def run(self) -> list[nodes.Node]:
        taken, label_format = self.labels.get(self.name.lower(), (0, ""))
        words = self.arguments[0].split(None, taken) if self.arguments else []
        label = label_format.format(*words[:taken], *([""] * taken))
        rest = words[taken] if len(words) > taken else ""
        if self.name.lower() in _CONDITIONAL:
            rest = ""
        if self.name.lower() == "audit-event":
            # `.. audit-event:: name args url`: the event's arguments, then a link target.
            event_args = rest.split()[0].replace(",", ", ") if rest.split() else ""
            label += f" with arguments {event_args}." if event_args else " with no arguments."
            rest = ""
        body = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, body)
        head = nodes.paragraph()
        if rest:
            inline, _messages = self.state.inline_text(rest, self.lineno)
            head.extend(inline)
        elif body.children and isinstance(body.children[0], nodes.paragraph):
            first = body.children[0]
            body.remove(first)
            head.extend(first.children)
        if label:
            separator = ": " if head.children else ("" if label.endswith(".") else ".")
            head.insert(0, nodes.Text(label + separator))
        return [node for node in (head, *body.children) if node.children or node.astext()]


_LITERAL = ("code-block", "sourcecode", "doctest", "testcode", "testoutput", "productionlist")
_NOTHING = (
    "toctree", "index", "highlight", "highlightlang", "tabularcolumns", "testsetup",
    "testcleanup", "sectionauthor", "moduleauthor", "codeauthor", "literalinclude",
    "miscnews", "limited-api-list", "audit-event-table", "default-domain", "autosummary",
    "automodule", "autoclass", "autofunction", "todo",
)  # fmt: skip
_OBJECTS = (
    "function", "method", "classmethod", "staticmethod", "decorator", "decoratormethod",
    "class", "exception", "data", "attribute", "property", "coroutinefunction",
    "coroutinemethod", "abstractmethod", "awaitablefunction", "awaitablemethod", "type",
    "c:function", "c:member", "c:macro", "c:type", "c:var", "c:struct", "c:union", "c:enum",
    "c:enumerator", "c:alias", "envvar", "cmdoption", "option", "opcode", "pdbcommand",
    "2to3fixer", "monitoring-event", "describe", "object",
)  # fmt: skip
_CONTAINERS = ("only", "hlist", "glossary", "centered", "acks", "tab", "tabs", "ifconfig")
# Their argument is a condition or a name, not text.
_CONDITIONAL = frozenset({"only", "ifconfig", "tabs"})


def _directive_table() -> dict[str, type[Directive]]:
    table: dict[str, type[Directive]] = {}
    for name in _CONTAINERS:
        table[name] = _Labelled
    for name in _OBJECTS:
        table[name] = _Description
        if ":" not in name:
            table[f"py:{name}"] = _Description
    for name in _Labelled.labels:
        table[name] = _Labelled
    for name in _LITERAL:
        table[name] = _Literal
    for name in _NOTHING:
        table[name] = _Nothing
    for name in ("module", "currentmodule", "py:module", "py:currentmodule", "program"):
        table[name] = _SetContext
    return table


_DIRECTIVES = _directive_table()
_registry_lock = threading.Lock()


@contextmanager
def _sphinx_directives() -> Iterator[None]:
    """Register the stand-ins for one parse and restore docutils' table afterwards."""
    registry: dict[str, Any] = directives._directives  # type: ignore[attr-defined]  # docutils' table, saved/restored like Sphinx's docutils_namespace
    with _registry_lock:
        saved = dict(registry)
        try:
            for name, directive in _DIRECTIVES.items():
                directives.register_directive(name, directive)
            yield
        finally:
            registry.clear()
            registry.update(saved)


_ROLE_PREFIX = {"issue": "bpo-", "gh": "gh-"}
_CALLABLE_ROLES = frozenset({"func", "meth", "py:func", "py:meth", "c:func"})


def _role_text(role: str, text: str) -> str:
    """What Sphinx shows for ``:role:`text```: the explicit title, else the target
    (``~a.b`` -> ``b``, ``!x`` -> ``x``), ``()`` after callables, ``bpo-``/``gh-`` numbers."""
    opening = text.rfind("<")
    if text.endswith(">") and opening > 0 and text[opening - 1] != "\x00":
        title = utils.unescape(text[:opening]).strip()
        if title:
            return title
    target = utils.unescape(text).lstrip("!")
    if target.startswith("~"):
        target = target[1:].rpartition(".")[2]
    role = role.lower()
    if role in _CALLABLE_ROLES and not target.endswith(")"):
        target += "()"
    return _ROLE_PREFIX.get(role, "") + target


class _PermissiveInliner(Inliner):
    """docutils' inliner that renders unknown interpreted-text roles as their text."""

    def interpreted(
        self, rawsource: str, text: str, role: str, lineno: int
    ) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        role_fn, _messages = roles.role(role, self.language, lineno, self.reporter)
        if role_fn is not None:
            result: tuple[list[nodes.Node], list[nodes.system_message]] = super().interpreted(
                rawsource, text, role, lineno
            )
            return result
        shown = _role_text(role, text)
        return [nodes.literal(rawsource, shown)], []


# docutils builds its inline patterns from ``vars(type(self))``, not the class hierarchy.
for _key, _value in vars(Inliner).items():
    if isinstance(_value, str) and not _key.startswith("__"):
        setattr(_PermissiveInliner, _key, _value)


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
        elif isinstance(node, _Desc):
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
        self.children(node, skip)
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


def parse_rst(source: str, text: str) -> ParsedDocument:
    """Sections of a reST document (see the module docstring).

    Raises:
        ParseError: If docutils fails on the input (it reports, rather than raises, for
            markup errors: those keep their text).
    """
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
        "promptops_rst_context": _Context(),
    }
    parser = Parser(inliner=_PermissiveInliner())
    try:
        with _sphinx_directives():
            document = publish_doctree(
                text, source_path=source, parser=parser, settings_overrides=settings
            )
    except Exception as exc:  # docutils raises assorted errors on pathological input
        raise ParseError(f"{source}: reStructuredText parse failed ({exc})", source=source) from exc
    first = document.next_node(nodes.section)
    first_title = first.next_node(nodes.title) if first is not None else None
    title = collapse(first_title.astext()) if first_title is not None else ""
    title = title or default_title(source)
    builder = SectionBuilder(title)
    _Walker(builder, document).children(document)
    return ParsedDocument(source, title, RST, builder.sections())
