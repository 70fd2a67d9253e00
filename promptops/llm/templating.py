"""Prompt templates: Jinja2 in its sandbox, ``{{ var }}`` syntax.

A template is valid when it parses and the variables it uses are exactly the declared ones: an
undeclared variable would render as an error at inference time, and a declared but unused one
is almost always a typo. Rendering uses ``StrictUndefined`` so a missing value fails loudly.

Templates are written by people (an Editor's version, anyone's preview in the web app), so the
sandbox also bounds what one render can allocate: ``*`` cannot build a string or list longer
than :data:`MAX_RENDERED_CHARS`, ``**`` refuses exponents over :data:`MAX_EXPONENT`, a render
stops once its output passes :data:`MAX_RENDERED_CHARS`, and any error raised while rendering
(``{{ x + 1 }}`` with a string ``x``, a division by zero) is a :class:`TemplateError`, never a
crash of the caller. Loops are bounded by Jinja's own ``MAX_RANGE`` (100,000) per ``range``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: Longest rendered text (characters) of one template, and longest string or list ``*`` may
#: build: ~500k tokens, beyond any model's context window.
MAX_RENDERED_CHARS = 2_000_000
#: Largest exponent ``**`` accepts (``2 ** 10000`` has 3,011 digits; larger ones cost CPU).
MAX_EXPONENT = 10_000


class TemplateError(ValueError):
    """A template that cannot be accepted or rendered. ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str = "body", names: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.names = names or []


class _PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the sizes of ``*`` and ``**`` bounded (intercepted
    operators are not constant-folded at compile time either, so the bound holds for
    literals too)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_RENDERED_CHARS
                ):
                    raise SecurityError(
                        f"repeating a sequence {times} times exceeds {MAX_RENDERED_CHARS} items"
                    )
        elif operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} exceeds {MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def _env() -> ImmutableSandboxedEnvironment:
    return _PromptSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def used_variables(template: str, *, field: str = "body") -> set[str]:
    """Names a template reads from its context. Raises :class:`TemplateError` on bad syntax."""
    try:
        ast = _env().parse(template)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"{field}: template syntax error on line {exc.lineno}: {exc.message}", field=field
        ) from exc
    return set(meta.find_undeclared_variables(ast))


@dataclass(frozen=True)
class TemplateCheck:
    """What :func:`check_template` found: the variables the templates use (empty when one
    does not parse) and every problem, in the order :func:`validate_template` reports them."""

    used: frozenset[str]
    problems: list[TemplateError]


def check_template(
    body: str, variables: Mapping[str, Any], *, system: str | None = None
) -> TemplateCheck:
    """Every reason ``body`` and ``system`` would be refused with ``variables`` declared:
    a syntax error in either (``field`` ``body`` / ``system``; the variable checks need both
    to parse), variables used but not declared, variables declared but not used (``field``
    ``variables``, ``names`` the variables). Never raises for a bad template."""
    used: set[str] = set()
    problems: list[TemplateError] = []
    for field, text in (("body", body), ("system", system)):
        if not text:
            continue
        try:
            used |= used_variables(text, field=field)
        except TemplateError as exc:
            problems.append(exc)
    if problems:
        return TemplateCheck(used=frozenset(), problems=problems)
    declared = set(variables)
    undeclared = sorted(used - declared)
    unused = sorted(declared - used)
    if undeclared:
        problems.append(
            TemplateError(
                f"variables used in the template but not declared: {', '.join(undeclared)}",
                field="variables",
                names=undeclared,
            )
        )
    if unused:
        problems.append(
            TemplateError(
                f"variables declared but not used in the template: {', '.join(unused)}",
                field="variables",
                names=unused,
            )
        )
    return TemplateCheck(used=frozenset(used), problems=problems)


def validate_template(
    body: str, variables: Mapping[str, Any], *, system: str | None = None
) -> None:
    """Check that ``body`` (and ``system``) parse and use exactly the declared ``variables``.

    Raises :class:`TemplateError` for the first problem :func:`check_template` finds (a syntax
    error, then undeclared, then unused variables, naming them).
    """
    problems = check_template(body, variables, system=system).problems
    if problems:
        raise problems[0]


@lru_cache(maxsize=512)
def _compiled(template: str) -> Template:
    # Compiling costs ~0.5 ms; an evaluation renders the same template thousands of times.
    return _env().from_string(template)


def render(template: str, values: Mapping[str, Any], *, field: str = "body") -> str:
    """Render ``template`` with ``values`` in the sandbox. Raises :class:`TemplateError` for
    a missing value, an unsafe operation, output longer than :data:`MAX_RENDERED_CHARS` or any
    error of the template's own expressions (a type error, a division by zero)."""
    try:
        parts: list[str] = []
        size = 0
        for chunk in _compiled(template).generate(**values):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise TemplateError(
                    f"{field}: the rendered text exceeds {MAX_RENDERED_CHARS} characters",
                    field=field,
                )
            parts.append(chunk)
        return "".join(parts)
    except TemplateError:
        raise
    except UndefinedError as exc:
        raise TemplateError(f"{field}: missing variable: {exc.message}", field="variables") from exc
    except SecurityError as exc:
        raise TemplateError(f"{field}: unsafe template operation: {exc}", field=field) from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{field}: template syntax error: {exc.message}", field=field) from exc
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        # The template's own expressions failed on these values (``{{ x + 1 }}`` with a
        # string x, ``{{ 1 / 0 }}``, ``{{ xs[9] }}``, a macro that calls itself): bad input, not
        # a server fault.
        raise TemplateError(
            f"{field}: the template failed on these values: {type(exc).__name__}: {exc}",
            field=field,
        ) from exc


@dataclass(frozen=True)
class PromptContent:
    """The immutable content of a prompt version (what ``content_hash`` covers)."""

    body: str
    variables: Mapping[str, Any]
    system: str | None = None
    model: str | None = None
    decoding: Mapping[str, Any] | None = None
    response_format: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, version: Any) -> PromptContent:
        """The content of a stored version (anything with the ``prompt_versions`` columns as
        attributes: a ``PromptVersion`` or a plain record of one)."""
        return cls(
            body=version.body,
            system=version.system,
            variables=version.variables,
            model=version.model,
            decoding=version.decoding,
            response_format=version.response_format,
        )

    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the content."""
        canonical = json.dumps(
            {
                "body": self.body,
                "system": self.system,
                "variables": dict(self.variables),
                "model": self.model,
                "decoding": dict(self.decoding or {}),
                "response_format": dict(self.response_format) if self.response_format else None,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def render_messages(self, values: Mapping[str, Any]) -> list[dict[str, str]]:
        """Chat messages (OpenAI format) for these variable values.

        Raises :class:`TemplateError` when a declared variable has no value.
        """
        missing = sorted(set(self.variables) - set(values))
        if missing:
            raise TemplateError(
                f"missing values for variables: {', '.join(missing)}",
                field="variables",
                names=missing,
            )
        messages = []
        if self.system:
            messages.append(
                {"role": "system", "content": render(self.system, values, field="system")}
            )
        messages.append({"role": "user", "content": render(self.body, values)})
        return messages
