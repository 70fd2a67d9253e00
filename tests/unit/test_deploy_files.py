"""Static checks of the deployment files (no Docker engine, no cluster needed).

- ``docker-compose.yml``: services, start order, the environment of every service that runs the
  project image, the search-attribute registration, worker scaling, the ``llm`` profile; plus
  ``docker compose config -q`` where the Compose plugin is installed.
- ``deploy/k8s/*.yaml``: every document has apiVersion/kind/metadata.name, references between
  objects resolve, container commands name modules that exist in the repository.
- ``deploy/Dockerfile``: copies every package of ``[tool.setuptools.packages.find] include``,
  runs as a non-root user, serves ``api.main:app`` on 0.0.0.0:8000 by default.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptops.llm import ModelCatalog

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
K8S_DIR = ROOT / "deploy" / "k8s"
MODELS_EXAMPLE = ROOT / "deploy" / "models.example.yaml"

SEARCH_ATTRIBUTES = ("EvalId", "DatasetId", "PromptVersion", "DeploymentId")
MIGRATE_CODE = (
    "from promptops.db.migrate import upgrade_head; import os; "
    "upgrade_head(os.environ['DATABASE_URL'])"
)
CLUSTER_SCOPED_KINDS = {"Namespace", "Kustomization"}


# --------------------------------------------------------------------------- helpers


def pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def project_packages() -> list[str]:
    """Top-level package directories named by ``[tool.setuptools.packages.find] include``."""
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    names = sorted({pattern.rstrip("*").rstrip(".") for pattern in include})
    assert names, "pyproject.toml names no packages"
    return names


def module_file(module: str) -> Path | None:
    """The source file of ``module`` inside the repository (``a.b`` -> a/b.py or a/b/__init__)."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defines(path: Path, name: str) -> bool:
    """Whether the module at ``path`` binds ``name`` at top level (assignment, def, import)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name.split(".")[0]) == name for alias in node.names
        ):
            return True
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def as_argv(command: Any) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def check_command_modules(argv: list[str]) -> list[str]:
    """Check the project modules an argv runs; returns what it found (for assertions)."""
    found: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "-m" and i + 1 < len(argv):
            module = argv[i + 1]
            path = module_file(module)
            assert path is not None, f"`python -m {module}`: no such module in the repository"
            if path.name == "__init__.py":
                assert (path.parent / "__main__.py").is_file(), f"{module} has no __main__"
            else:
                assert "__main__" in path.read_text(), f"{module} has no __main__ block"
            found.append(module)
        elif arg == "-c" and i + 1 < len(argv):
            code = argv[i + 1]
            ast.parse(code)
            for match in re.finditer(r"from\s+([\w.]+)\s+import\s+([\w, ]+)", code):
                module, names = match.group(1), match.group(2)
                if module.split(".")[0] not in project_packages():
                    continue
                path = module_file(module)
                assert path is not None, f"`python -c`: no module {module} in the repository"
                for name in (n.strip() for n in names.split(",")):
                    assert defines(path, name), f"{module} defines no {name}"
                found.append(module)
        elif arg.endswith("uvicorn") and i + 1 < len(argv):
            target = argv[i + 1]
            module, _, attr = target.partition(":")
            path = module_file(module)
            assert path is not None, f"uvicorn {target}: no module {module} in the repository"
            assert attr and defines(path, attr), f"uvicorn {target}: {module} defines no {attr}"
            found.append(target)
    return found


# --------------------------------------------------------------------------- docker compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def runs_project_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile":
        return True
    return "promptops" in str(service.get("image", "")).split("/")[-1].split(":")[0]


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "postgres",
        "temporal",
        "temporal-admin-tools",
        "temporal-ui",
        "migrate",
        "api",
        "worker",
        "llm",
    }
    assert expected <= set(services), f"missing services: {expected - set(services)}"
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg17")
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert any(str(v).startswith("pgdata:") for v in services["postgres"]["volumes"])
    assert "pgdata" in (compose.get("volumes") or {})
    assert services["temporal"]["image"].split(":")[0] == "temporalio/auto-setup"
    assert depends_on(services["temporal"]) == {"postgres": "service_healthy"}
    assert env_of(services["temporal"])["POSTGRES_SEEDS"] == "postgres"
    assert services["temporal-ui"]["image"].split(":")[0] == "temporalio/ui"
    assert "8233:8080" in [str(p) for p in services["temporal-ui"]["ports"]]
    assert "8000:8000" in [str(p) for p in services["api"]["ports"]]


def test_every_project_service_has_database_and_temporal(compose: dict[str, Any]) -> None:
    project = {name: s for name, s in compose["services"].items() if runs_project_image(s)}
    assert {"migrate", "api", "worker"} <= set(project)
    for name, service in project.items():
        env = env_of(service)
        assert env.get("DATABASE_URL", "").startswith("postgresql+psycopg://"), name
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env.get("TEMPORAL_ADDRESS") == "temporal:7233", name
        assert env.get("PROMPTOPS_MODELS") == "/etc/promptops/models.yaml", name
        mounts = [str(v) for v in service.get("volumes") or []]
        assert any(m.split(":")[-2:][0] == "/etc/promptops/models.yaml" for m in mounts), name
        assert "deploy/models.example.yaml" in " ".join(mounts), name


def test_compose_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert depends_on(services["migrate"]).get("postgres") == "service_healthy"
    for name in ("api", "worker"):
        deps = depends_on(services[name])
        assert deps.get("migrate") == "service_completed_successfully", name
        assert "temporal" in deps, name
        assert deps.get("temporal-admin-tools") == "service_completed_successfully", name
    for name, service in services.items():
        for dep in depends_on(service):
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert "profiles" not in services[dep], f"{name} depends on profiled service {dep}"


def test_compose_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = as_argv(services["migrate"]["command"])
    assert migrate[:2] == ["python", "-c"] and migrate[2] == MIGRATE_CODE
    assert check_command_modules(migrate) == ["promptops.db.migrate"]
    assert check_command_modules(as_argv(services["api"]["command"])) == ["api.main:app"]
    api = as_argv(services["api"]["command"])
    assert api[api.index("--host") + 1] == "0.0.0.0" and api[api.index("--port") + 1] == "8000"
    assert check_command_modules(as_argv(services["worker"]["command"])) == ["workers.main"]
    assert services["api"]["healthcheck"]["test"] and "/healthz" in str(
        services["api"]["healthcheck"]["test"]
    )


def test_compose_registers_search_attributes(compose: dict[str, Any]) -> None:
    tools = compose["services"]["temporal-admin-tools"]
    assert tools["image"].split(":")[0] == "temporalio/admin-tools"
    script = " ".join(as_argv(tools.get("entrypoint")) + [str(c) for c in tools["command"]])
    assert "temporal operator search-attribute create" in script
    assert "--type Keyword" in script
    for attr in SEARCH_ATTRIBUTES:
        assert re.search(rf"\b{attr}\b", script), attr
    assert "until" in script and "sleep" in script, "registration must retry until Temporal is up"
    assert "$$" in script and not re.search(r"(?<!\$)\$(?!\$)", script), (
        "shell variables must be written $$ in docker-compose.yml"
    )


def test_compose_worker_scales(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert "container_name" not in worker, "a fixed container name prevents --scale"
    assert "ports" not in worker, "published ports prevent --scale"


def test_compose_llm_profile(compose: dict[str, Any]) -> None:
    llm = compose["services"]["llm"]
    assert llm["profiles"] == ["llm"]
    assert any(str(v).startswith("./models:/models") for v in llm["volumes"])
    argv = as_argv(llm["command"])
    assert argv[argv.index("--alias") + 1] == "local-llm"
    assert argv[argv.index("--port") + 1] == "8080"
    catalog = ModelCatalog.load(MODELS_EXAMPLE)
    entry = catalog.get(None)
    assert entry.model_name == "local-llm"
    assert entry.litellm_params["api_base"] == "http://llm:8080/v1"


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        probe = subprocess.run(
            [docker, "compose", "version"], check=False, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [docker, "compose"] if probe.returncode == 0 else None


def test_docker_compose_config() -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("docker CLI with the compose plugin is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    for profile_args in ([], ["--profile", "llm"]):
        result = subprocess.run(
            [*cli, "-f", str(COMPOSE_FILE), *profile_args, "config", "-q"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- kubernetes


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    files = sorted(K8S_DIR.glob("*.yaml")) + sorted(K8S_DIR.glob("*.yml"))
    assert files, f"no manifests in {K8S_DIR}"
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            assert isinstance(doc, dict), path.name
            docs.append((path.name, doc))
    return docs


@pytest.fixture(scope="module")
def manifests() -> list[tuple[str, dict[str, Any]]]:
    return k8s_documents()


def by_kind(manifests: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in manifests if d["kind"] == kind}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def test_k8s_documents_are_well_formed(manifests: list[tuple[str, dict[str, Any]]]) -> None:
    for name, doc in manifests:
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], name
        assert isinstance(doc.get("kind"), str) and doc["kind"], name
        assert isinstance(doc.get("metadata", {}).get("name"), str), f"{name}: metadata.name"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), name
        if doc["kind"] not in CLUSTER_SCOPED_KINDS:
            assert doc["metadata"].get("namespace") == "promptops", f"{name}: {doc['kind']}"
    kinds = {d["kind"] for _, d in manifests}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Job",
    } <= kinds


def test_k8s_kustomization_lists_every_manifest(
    manifests: list[tuple[str, dict[str, Any]]],
) -> None:
    kustomizations = [d for _, d in manifests if d["kind"] == "Kustomization"]
    if not kustomizations:
        pytest.skip("no kustomization.yaml")
    listed = set(kustomizations[0]["resources"])
    files = {name for name, d in manifests if d["kind"] != "Kustomization"}
    assert files == listed


def test_k8s_settings_and_secret(manifests: list[tuple[str, dict[str, Any]]]) -> None:
    configmaps = by_kind(manifests, "ConfigMap")
    secrets = by_kind(manifests, "Secret")
    settings = configmaps["promptops-settings"]["data"]
    assert settings["TEMPORAL_ADDRESS"].endswith(":7233")
    assert settings["PROMPTOPS_MODELS"] == "/etc/promptops/models.yaml"
    assert "DATABASE_URL" not in settings, "the database URL belongs in the Secret"
    for value in settings.values():
        assert isinstance(value, str), "ConfigMap data values must be strings"
    models = yaml.safe_load(configmaps["promptops-models"]["data"]["models.yaml"])
    assert ModelCatalog.from_dict(models).default_model
    secret = secrets["promptops-db"]
    url = (secret.get("stringData") or {}).get("DATABASE_URL", "")
    assert url.startswith("postgresql+psycopg://")


def test_k8s_workloads(manifests: list[tuple[str, dict[str, Any]]]) -> None:
    configmaps = by_kind(manifests, "ConfigMap")
    secrets = by_kind(manifests, "Secret")
    workloads = [d for _, d in manifests if d["kind"] in ("Deployment", "Job")]
    commands: list[str] = []
    for doc in workloads:
        spec = pod_spec(doc)
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for container in spec["containers"]:
            argv = as_argv(container.get("command")) + as_argv(container.get("args"))
            commands += check_command_modules(argv)
            env_from = container.get("envFrom") or []
            cm_refs = [e["configMapRef"]["name"] for e in env_from if "configMapRef" in e]
            secret_refs = [e["secretRef"]["name"] for e in env_from if "secretRef" in e]
            assert "promptops-settings" in cm_refs and "promptops-db" in secret_refs
            for ref in cm_refs:
                assert ref in configmaps, ref
            for ref in secret_refs:
                assert ref in secrets, ref
            for mount in container.get("volumeMounts") or []:
                volume = volumes[mount["name"]]
                if "configMap" in volume:
                    assert volume["configMap"]["name"] in configmaps
    assert sorted(commands) == sorted(["api.main:app", "workers.main", "promptops.db.migrate"])


def test_k8s_api_and_worker(manifests: list[tuple[str, dict[str, Any]]]) -> None:
    deployments = by_kind(manifests, "Deployment")
    services = by_kind(manifests, "Service")
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    jobs = by_kind(manifests, "Job")

    api = deployments["promptops-api"]
    container = pod_spec(api)["containers"][0]
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert probe["port"] in ports or probe["port"] == 8000
    assert 8000 in ports.values()
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/promptops" in mounts

    service = services["promptops-api"]
    assert service["spec"]["selector"].items() <= (
        api["spec"]["template"]["metadata"]["labels"].items()
    )
    assert any(p["targetPort"] in ("http", 8000) for p in service["spec"]["ports"])

    worker = deployments["promptops-worker"]
    assert as_argv(pod_spec(worker)["containers"][0]["command"]) == ["python", "-m", "workers.main"]
    assert pod_spec(worker)["containers"][0]["resources"]["requests"]["cpu"], (
        "CPU autoscaling needs a CPU request"
    )
    hpa = next(
        h for h in hpas.values() if h["spec"]["scaleTargetRef"]["name"] == "promptops-worker"
    )
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert any(m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])

    job = jobs["promptops-migrate"]
    argv = as_argv(pod_spec(job)["containers"][0]["command"])
    assert argv == ["python", "-c", MIGRATE_CODE]
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


def test_kubectl_kustomize_builds() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None or not (K8S_DIR / "kustomization.yaml").is_file():
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout) if d]
    assert kinds.count("Deployment") == 2 and "Job" in kinds


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    result = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        result.append((instruction.upper(), args.strip()))
    return result


def copied_sources() -> set[str]:
    sources: set[str] = set()
    for instruction, args in dockerfile_instructions():
        if instruction not in ("COPY", "ADD") or "--from=" in args:
            continue  # COPY --from takes a build stage's files, not the repository's
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        sources.update(p.rstrip("/") for p in parts[:-1])
    return sources


def test_dockerfile_copies_every_package() -> None:
    sources = copied_sources()
    for package in project_packages():
        assert package in sources, f"deploy/Dockerfile does not COPY {package}/"
        assert (ROOT / package / "__init__.py").is_file(), f"{package} is not a package"
    assert "migrations" in sources, "the Alembic scripts are needed by the migration"
    assert "pyproject.toml" in sources
    readme = pyproject()["project"].get("readme")
    if isinstance(readme, str):
        assert readme in sources, f"pip install . needs {readme}"
    for source in sources - {readme}:
        assert (ROOT / source).exists(), f"COPY of {source}, which is not in the repository"


def test_dockerfile_builds_and_ships_the_web_app() -> None:
    instructions = dockerfile_instructions()
    runs = " ".join(args for ins, args in instructions if ins == "RUN")
    assert "npm ci" in runs and "npm run build" in runs, "the web app is built from the lockfile"
    copies = [args for ins, args in instructions if ins == "COPY"]
    assert any("--from=" in c and c.split()[-1].rstrip("/") == "ui/dist" for c in copies), (
        "the built app must land in ui/dist, where api/webapp.py serves it from"
    )


def test_dockerfile_runtime() -> None:
    instructions = dockerfile_instructions()
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim"
    runs = " ".join(args for ins, args in instructions if ins == "RUN")
    assert re.search(r"pip install\b[^&;]*\s\.(\s|$)", runs), "the project is installed with pip"
    env = " ".join(args for ins, args in instructions if ins == "ENV")
    assert "LITELLM_LOCAL_MODEL_COST_MAP=True" in env
    users = [args for ins, args in instructions if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "must run as non-root"
    cmds = [args for ins, args in instructions if ins == "CMD"]
    assert cmds, "no default CMD"
    argv = yaml.safe_load(cmds[-1]) if cmds[-1].startswith("[") else shlex.split(cmds[-1])
    assert argv[0] == "uvicorn"
    assert check_command_modules(argv) == ["api.main:app"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "8000"
