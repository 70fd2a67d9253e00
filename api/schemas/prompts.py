from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.schemas.common import INT64_MAX, INT64_MIN, NAME_MAX, Name, ORMModel, RequestModel


class PromptCreate(RequestModel):
    """A prompt of a project: ``name`` unique in the project (1..200 printable characters)."""

    name: Name
    description: str = ""


class PromptPublic(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    template_engine: str
    created_at: datetime


class PromptsPublic(BaseModel):
    data: list[PromptPublic]
    count: int


class Decoding(RequestModel):
    """Decoding parameters passed to the provider: ``temperature`` 0..2, ``top_p`` (0, 1],
    ``max_tokens`` 1..32768 (completion tokens), ``stop`` sequences, ``seed`` a signed 64-bit
    integer (OpenAI's range)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    stop: list[str] | None = None
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)


class PromptVersionCreate(RequestModel):
    """A new immutable version. ``body`` is a Jinja2 template (``{{ var }}``); ``variables``
    declares every variable it uses (name -> type description, e.g. ``"str"``)."""

    body: str = Field(min_length=1)
    system: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    notes: str = ""
    model: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    decoding: Decoding = Field(default_factory=Decoding)
    response_format: dict[str, Any] | None = None


class PromptVersionPublic(ORMModel):
    id: uuid.UUID
    prompt_id: uuid.UUID
    version: int
    body: str
    system: str | None
    variables: dict[str, Any]
    notes: str
    model: str | None
    decoding: dict[str, Any]
    response_format: dict[str, Any] | None
    content_hash: str
    status: str
    created_by: str
    created_at: datetime


class PromptVersionsPublic(BaseModel):
    data: list[PromptVersionPublic]
    count: int


class LabelMove(RequestModel):
    """Point a label at a version (moving it back is a rollback)."""

    prompt_version_id: uuid.UUID


class LabelPublic(ORMModel):
    prompt_id: uuid.UUID
    name: str
    prompt_version_id: uuid.UUID
    updated_at: datetime
    #: Moves only through a deployment or an Admin's emergency rollback.
    protected: bool = False


class LabelsPublic(BaseModel):
    data: list[LabelPublic]


def _text(value: str) -> str:
    """Free text that Postgres (JSONB) can store: no control characters other than tab and
    line breaks, no lone surrogates."""
    for ch in value:
        if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise ValueError(f"contains the character U+{ord(ch):04X}, which is not text")
    return value


class LabelRollback(RequestModel):
    """An Admin's emergency rollback of a protected label to a version it served before."""

    prompt_version_id: uuid.UUID
    #: Why (required; recorded in the audit log).
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
        AfterValidator(_text),
    ]


class LabelRollbackPublic(LabelPublic):
    """The label after the rollback, the version it pointed at before and the reason."""

    version: int
    previous_version_id: uuid.UUID
    reason: str


class LabelHistoryEntry(BaseModel):
    """One value the label took: the version, the one it replaced (None for the first) and
    when (``current``: the value it has now)."""

    prompt_version_id: uuid.UUID
    version: int
    previous_version_id: uuid.UUID | None
    moved_at: datetime
    current: bool


class LabelHistoryPublic(BaseModel):
    prompt_id: uuid.UUID
    name: str
    data: list[LabelHistoryEntry]
    count: int


class ProtectedLabelPublic(BaseModel):
    """``always``: protected in every project (``production``); otherwise marked by
    ``created_by`` at ``created_at``."""

    name: str
    always: bool
    created_by: str | None = None
    created_at: datetime | None = None


class ProtectedLabelsPublic(BaseModel):
    project_id: uuid.UUID
    data: list[ProtectedLabelPublic]


class RenderRequest(RequestModel):
    variables: dict[str, Any] = Field(default_factory=dict)


class RenderPublic(BaseModel):
    messages: list[dict[str, str]]


class VersionDiff(BaseModel):
    from_version: int
    to_version: int
    fields: dict[str, dict[str, Any]]
    body_diff: str


class TemplatePreview(RequestModel):
    """An unsaved template to check and render (the prompt editor's live preview): ``body``
    and ``system`` as a version would hold them, the declared ``variables`` (name -> type
    description) and the ``values`` to render them with."""

    body: str = ""
    system: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, Any] = Field(default_factory=dict)


class TemplateProblemPublic(BaseModel):
    """One reason the template would be refused or cannot be rendered: ``field`` is the
    request field at fault (``body``, ``system``, ``variables`` or ``values``), ``names`` the
    variables concerned (undeclared, unused or without a value)."""

    field: str
    message: str
    names: list[str]


class TemplatePreviewPublic(BaseModel):
    """The preview: ``messages`` as a model would receive them (None when the template cannot
    be rendered: a syntax error or a variable without a value), the variables the template
    uses, every problem (the same rules ``POST /prompts/{id}/versions`` enforces, all at once)
    and ``prompt_tokens``: an ESTIMATE of the prompt's tokens (characters / 4 plus the chat
    format's overhead), of the rendered messages when ``rendered``, else of the template text
    as written."""

    messages: list[dict[str, str]] | None
    used_variables: list[str]
    errors: list[TemplateProblemPublic]
    prompt_tokens: int
    rendered: bool
