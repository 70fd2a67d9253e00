"""Serving model calls to API clients: ``generate``, test runs (``/runs/execute``) and the
OpenAI-compatible chat completions. Turns a request body into a
:class:`promptops.llm.pipeline.CallRequest` (which prompt version or label, variables, model
or routing policy, decoding, JSON Schema, tools, subject) and runs it through the model-call
pipeline; the FastAPI routers and the hot path (:mod:`api.hotpath`) both call this service, so
a request is served the same way whichever transport takes it."""

from __future__ import annotations

from typing import Any

from api.schemas.openai_compat import ChatCompletionRequest
from api.schemas.runs import ExecuteRequest, GenerateRequest
from promptops.db.models import ENVIRONMENT_LABELS
from promptops.errors import InvalidInput
from promptops.governance.auth import Principal
from promptops.llm.pipeline import CallOutcome, CallRequest, Pipeline, PromptTarget
from promptops.llm.pipeline.stages.resolve import environment_of_label
from promptops.llm.structured import check_schema
from promptops.retrieval.rag import RetrievalSpec

#: ``model`` prefix of the OpenAI-compatible API that names a prompt: ``prompt:<name>[@label]``.
PROMPT_PREFIX = "prompt:"


def _decoding(body: ExecuteRequest | GenerateRequest) -> dict[str, Any]:
    return body.decoding.model_dump(exclude_none=True) if body.decoding else {}


class ServingService:
    """Model calls on behalf of ``principal`` through ``pipeline``."""

    def __init__(self, pipeline: Pipeline, principal: Principal) -> None:
        self.pipeline = pipeline
        self.principal = principal

    async def _call(self, request: CallRequest) -> CallOutcome:
        if request.stream:
            return await self.pipeline.stream(request)
        return await self.pipeline.run(request)

    async def execute(self, body: ExecuteRequest) -> CallOutcome:
        """A synchronous test run of one version (recorded with source ``execute``)."""
        return await self.pipeline.run(
            CallRequest(
                source="execute",
                principal=self.principal,
                target=PromptTarget(version_id=body.prompt_version_id),
                variables=body.variables,
                model=body.model,
                decoding=_decoding(body),
            )
        )

    async def generate(self, body: GenerateRequest) -> CallOutcome:
        """Production inference (``POST /api/v1/generate``): the version ``prompt_version_id``
        (a version that has not passed the approval policy is a test call), or the label of
        the environment (prod -> ``production``) or ``label``, of a prompt given by id or by
        project + name; while a canary runs in that environment, the subject's sticky hash
        picks the arm. Raises the pipeline's domain errors, and InvalidInput (422) for a body
        that names no prompt, a label that contradicts the environment, or a schema that is
        not a JSON Schema."""
        if body.schema_ is not None:
            try:
                check_schema(body.schema_)
            except ValueError as exc:
                raise InvalidInput(str(exc), field="schema") from exc
        if body.prompt_version_id is not None:
            target = PromptTarget(version_id=body.prompt_version_id)
        else:
            if body.prompt_id is None and not (body.project_id and body.prompt):
                raise InvalidInput(
                    "give prompt_version_id, prompt_id, or project_id + prompt", field="prompt_id"
                )
            environment, label = _environment_and_label(body)
            target = PromptTarget(
                prompt_id=body.prompt_id,
                project_id=body.project_id,
                prompt_name=body.prompt,
                label=label,
                environment=environment,
            )
        return await self._call(
            CallRequest(
                source="generate",
                principal=self.principal,
                target=target,
                variables=body.variables,
                model=body.model,
                decoding=_decoding(body),
                schema=body.schema_,
                tools=body.tools,
                tool_choice=body.tool_choice,
                subject_id=body.subject_id,
                stream=body.stream,
                retrieval=RetrievalSpec(**body.retrieval.model_dump()) if body.retrieval else None,
            )
        )

    async def chat_completion(
        self, body: ChatCompletionRequest, project_ref: str | None
    ) -> CallOutcome:
        """An OpenAI-compatible chat completion (recorded with source ``openai``). ``model``
        is a model, ``policy:<name>`` or ``prompt:<name>[@label]`` (the prompt's rendered
        messages first, then ``messages``); the project is the key's, else ``project_ref``
        (the ``OpenAI-Project`` header: a name or id), else the organization's only one."""
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        request = CallRequest(
            source="openai",
            principal=self.principal,
            messages=messages,
            decoding=body.decoding(),
            response_format=body.response_format,
            tools=body.tools,
            tool_choice=body.tool_choice,
            subject_id=body.user,
            stream=body.stream,
            project_ref=project_ref,
        )
        if body.model.startswith(PROMPT_PREFIX):
            name, _, label = body.model[len(PROMPT_PREFIX) :].partition("@")
            if not name:
                raise InvalidInput(
                    "model 'prompt:<name>[@label]' needs a prompt name", field="model"
                )
            environment, label = environment_of_label(label or None)
            # No project id: the resolve stage chooses it as for raw messages.
            request.target = PromptTarget(
                prompt_name=name, label=label, environment=environment, field="model"
            )
            request.variables = body.variables
        else:
            request.model = body.model
        return await self._call(request)


def _environment_and_label(body: GenerateRequest) -> tuple[str | None, str]:
    if body.environment is not None:
        label = ENVIRONMENT_LABELS[body.environment]
        if body.label is not None and body.label != label:
            raise InvalidInput(
                f"environment {body.environment!r} serves label {label!r}, not {body.label!r}",
                field="label",
            )
        return body.environment, label
    return environment_of_label(body.label)
