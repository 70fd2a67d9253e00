"""Stand-ins for Sphinx's reStructuredText directives and roles, for plain docutils.

docutils knows neither Sphinx's directives (``.. function::``, ``.. versionadded::``...) nor
its roles (``:func:``, ``:ref:``...). Left alone it reports them as errors and keeps only their
raw source. :func:`sphinx_directives` registers, for the length of one parse (under a lock,
restoring docutils' table afterwards, as Sphinx's own ``docutils_namespace`` does), stand-ins
for the directives Sphinx and the CPython documentation define:

* API object descriptions (``function``, ``class``, ``c:function``, ``envvar``...) become
  :class:`Desc` nodes headed by their first signature, anchored by the id Sphinx gives them
  (``functools.reduce``, ``c.PyList_New``, ``cmdoption-trace-c``), following the domains'
  naming (module from ``.. module::``/``.. currentmodule::``, nesting inside a class or a C
  type);
* ``versionadded``/``versionchanged``/``deprecated``/``seealso``/``impl-detail``/
  ``availability``/``audit-event`` keep their text with the label Sphinx renders
  ("New in version 3.9: ...");
* code directives keep their content verbatim; ``toctree``, ``index``, ``testsetup``,
  ``literalinclude`` and similar produce nothing (they render no prose);
* the other Sphinx directives keep their argument and content as body text (:class:`Labelled`
  with no label), as do directives of unknown extensions on a second parse.

:class:`PermissiveInliner` renders roles docutils does not know as their text
(``:func:`~functools.reduce``` -> ``reduce()``, ``:ref:`text <label>``` -> ``text``).
The naming context lives in the document's settings (``promptops_rst_context``, a
:class:`Context`), so concurrent parses do not share it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from docutils import nodes, utils
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.states import Inliner


class _AnyOptions(dict[str, Callable[[str | None], Any]]):
    """An ``option_spec`` that accepts every option (Sphinx adds ``:noindex:``, ``:type:``...)."""

    def __missing__(self, key: str) -> Callable[[str | None], Any]:
        return directives.unchanged


_ANY_OPTIONS = _AnyOptions({"noindex": directives.unchanged})


@dataclass
class Context:
    """Sphinx's ``ref_context`` for one document: current module, class and program."""

    module: str | None = None
    scopes: list[str] = field(default_factory=list)
    program: str | None = None


def _context(directive: Directive) -> Context:
    context: Context = directive.state.document.settings.promptops_rst_context
    return context


class Desc(nodes.General, nodes.Element):
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
        # One signature per line; a backslash at the end of a line continues it (Sphinx).
        lines = self.arguments[0].replace("\\\n", "").split("\n")
        signatures = [" ".join(line.split()) for line in lines if line.strip()]
        domain, _, kind = self.name.lower().rpartition(":")
        domain = domain or _DEFAULT_DOMAIN.get(kind, "py")
        first, last = (signatures[0], signatures[-1]) if signatures else ("", "")
        anchor, _ = self._anchor(context, domain, kind, first)
        # Sphinx nests the content under the last signature (`set(...)` / `frozenset(...)`).
        _, scope = self._anchor(context, domain, kind, last)
        node = Desc(signature=first or kind, anchor=anchor)
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
        self, context: Context, domain: str, kind: str, signature: str
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
            # Sphinx's option_desc_re: the name ends at whitespace or "=".
            option = signature.split(",", 1)[0].split("=", 1)[0].split()
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


class Labelled(Directive):
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
        table[name] = Labelled
    for name in _OBJECTS:
        table[name] = _Description
        if ":" not in name:
            table[f"py:{name}"] = _Description
    for name in Labelled.labels:
        table[name] = Labelled
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
def sphinx_directives(extra: dict[str, type[Directive]]) -> Iterator[None]:
    """Register the stand-ins (and ``extra``) for one parse, then restore docutils' table."""
    registry: dict[str, Any] = directives._directives  # type: ignore[attr-defined]  # docutils' table, saved/restored like Sphinx's docutils_namespace
    with _registry_lock:
        saved = dict(registry)
        try:
            for name, directive in (_DIRECTIVES | extra).items():
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


class PermissiveInliner(Inliner):
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
        setattr(PermissiveInliner, _key, _value)
