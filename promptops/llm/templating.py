"""Prompt templates: Jinja2 in its sandbox, ``{{ var }}`` syntax.

A template is valid when it parses and the variables it uses are exactly the declared ones: an
undeclared variable would render as an error at inference time, and a declared but unused one
is almost always a typo. Rendering uses ``StrictUndefined`` so a missing value fails loudly.
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
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(ValueError):
    """A template that cannot be accepted or rendered. ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str = "body", names: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.names = names or []


@lru_cache(maxsize=1)
def _env() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


def used_variables(template: str, *, field: str = "body") -> set[str]:
    """Names a template reads from its context. Raises :class:`TemplateError` on bad syntax."""
    try:
        ast = _env().parse(template)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"{field}: template syntax error on line {exc.lineno}: {exc.message}", field=field
        ) from exc
    return set(meta.find_undeclared_variables(ast))


def validate_template(
    body: str, variables: Mapping[str, Any], *, system: str | None = None
) -> None:
    """Check that ``body`` (and ``system``) parse and use exactly the declared ``variables``.

    Raises :class:`TemplateError` naming the undeclared or unused variables.
    """
    used = used_variables(body, field="body")
    if system:
        used |= used_variables(system, field="system")
    declared = set(variables)
    undeclared = sorted(used - declared)
    unused = sorted(declared - used)
    if undeclared:
        raise TemplateError(
            f"variables used in the template but not declared: {', '.join(undeclared)}",
            field="variables",
            names=undeclared,
        )
    if unused:
        raise TemplateError(
            f"variables declared but not used in the template: {', '.join(unused)}",
            field="variables",
            names=unused,
        )


@lru_cache(maxsize=512)
def _compiled(template: str) -> Template:
    # Compiling costs ~0.5 ms; an evaluation renders the same template thousands of times.
    return _env().from_string(template)


def render(template: str, values: Mapping[str, Any], *, field: str = "body") -> str:
    """Render ``template`` with ``values`` in the sandbox. Raises :class:`TemplateError`."""
    try:
        return _compiled(template).render(**values)
    except UndefinedError as exc:
        raise TemplateError(f"{field}: missing variable: {exc.message}", field="variables") from exc
    except SecurityError as exc:
        raise TemplateError(f"{field}: unsafe template operation: {exc}", field=field) from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{field}: template syntax error: {exc.message}", field=field) from exc


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
