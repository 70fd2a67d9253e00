"""The FastAPI application: ``uvicorn api.main:app``. REST under ``/api/v1``, docs at ``/docs``."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp

from api.errors import Unauthorized, install_handlers
from api.hotpath import HotPath
from api.limits import BodyLimit
from api.routers import (
    api_keys,
    approvals,
    audit,
    budgets,
    cache,
    dashboards,
    datasets,
    deployments,
    evals,
    me,
    members,
    models,
    openai_compat,
    projects,
    prompts,
    provider_keys,
    retrieval,
    routing_policies,
    runs,
)
from api.webapp import install_webapp
from promptops.db.connection import close_pools
from promptops.db.repositories.health import HealthCheckRepository
from promptops.db.session import get_engine, get_session_factory
from promptops.devstack.runtime import resolve_database_url
from promptops.governance.auth import Authenticator
from promptops.governance.security import SecretBox
from promptops.llm import LLMGateway, ModelCatalog
from promptops.llm.credentials import CREDENTIALS
from promptops.llm.pipeline import Pipeline
from promptops.settings import Settings, get_settings
from promptops.telemetry import (
    MetricsMiddleware,
    metrics_exposition,
    register_gateway,
    setup_tracing,
)


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    catalog: ModelCatalog | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        app.state.settings = settings
        app.state.database_url = url
        app.state.session_factory = get_session_factory(url)
        app.state.gateway = LLMGateway(catalog or ModelCatalog.load(settings.resolved_models_file))
        register_gateway(app.state.gateway)
        app.state.temporal = None
        app.state.server_secret = settings.server_secret()
        app.state.secret_box = SecretBox(settings.data_encryption_key())
        app.state.authenticator = Authenticator(
            url, app.state.server_secret, cache_ttl_s=settings.auth_cache_ttl_s
        )
        app.state.pipeline = Pipeline(
            app.state.gateway,
            url,
            secret_box=app.state.secret_box,
            durable=settings.run_commit == "durable",
        )
        CREDENTIALS.ttl_s = settings.auth_cache_ttl_s
        yield
        await app.state.gateway.aclose()  # the gateway's pooled provider connections
        await close_pools()
        await get_engine(url).dispose()

    app = FastAPI(
        title="PromptOps",
        version="0.1.0",
        description="Versioned prompts, durable batch evaluations and safe rollouts on Temporal.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: no CDN needed on offline machines
        # Server spans and HTTP metrics come from MetricsMiddleware (one span per request, the
        # promptops_http_* series); FastAPI's own per-operation spans cost too much per request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_handlers(app)
    setup_tracing("promptops-api")
    # Outermost: the metrics and the server span, the body size limit (api/limits.py: every
    # route, the hot path's included), then the hot path (generate and
    # /v1/chat/completions without FastAPI's machinery), then Starlette's own stack (error
    # and exception middleware, routing) for everything else.
    build_stack = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return MetricsMiddleware(
            BodyLimit.from_settings(HotPath(build_stack(), enabled=settings.hot_path), settings)
        )

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    for module in (
        me,
        projects,
        prompts,
        datasets,
        runs,
        evals,
        audit,
        members,
        api_keys,
        provider_keys,
        approvals,
        deployments,
        budgets,
        models,
        cache,
        routing_policies,
        dashboards,
        retrieval,
    ):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(openai_compat.router)  # /v1: the OpenAI-compatible API

    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/_swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="PromptOps API",
            swagger_js_url="/_swagger/swagger-ui-bundle.js",
            swagger_css_url="/_swagger/swagger-ui.css",
            swagger_favicon_url="/_swagger/favicon-32x32.png",
        )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        async with app.state.session_factory() as session:
            await HealthCheckRepository(session).ping()
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus text exposition (see :mod:`promptops.telemetry`). Needs no API key, only
        ``Authorization: Bearer <PROMPTOPS_METRICS_TOKEN>`` when that is set: restrict it to the
        scraper at the network level as well."""
        token = settings.metrics_token
        if token and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {token}".encode()
        ):
            raise Unauthorized("/metrics needs 'Authorization: Bearer <PROMPTOPS_METRICS_TOKEN>'")
        body, content_type = metrics_exposition()
        return Response(body, media_type=content_type)

    install_webapp(app, settings.ui_dir)  # last: its fallback takes what no route took
    return app


app = create_app()
