"""The embedded stack end to end: ``promptops up --detach`` / ``status`` / ``down`` on free ports.

Runs the real CLI in subprocesses with ``PROMPTOPS_HOME`` in ``tmp_path``. The worker and the API
take part when ``workers/main.py`` / ``api/main.py`` exist (``PROMPTOPS_STACK_COMPONENTS``).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import psutil
import pytest

from tests.support.stack import ROOT, run_cli, stack_env

_run = run_cli


def _components() -> list[str]:
    names = ["temporal", "postgres", "llm"]
    if (ROOT / "workers" / "main.py").exists():
        names.append("worker")
    if (ROOT / "api" / "main.py").exists():
        names.append("api")
    return names


def _stack_env(home: Path, components: list[str]) -> dict[str, str]:
    return stack_env(home, components)


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_up_status_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    components = _components()
    env = _stack_env(home, components)
    try:
        t0 = time.monotonic()
        up = _run(["up", "--detach"], env, tmp_path)
        startup = time.monotonic() - t0
        assert up.returncode == 0, up.stdout + up.stderr
        assert "PromptOps stack is up" in up.stdout
        assert "Traceback" not in up.stdout + up.stderr
        print(f"`up --detach` healthy in {startup:.1f}s with {components}")

        state = json.loads((home / "state.json").read_text())
        assert state["status"] == "healthy"
        assert set(components) <= set(state["pids"]), state["pids"]
        urls = state["urls"]
        assert urls["temporal_address"] == f"127.0.0.1:{env['PROMPTOPS_TEMPORAL_PORT']}"
        assert urls["database_url"].startswith("postgresql+psycopg://")
        assert Path(urls["models_file"]).is_file()
        for name in components:
            if name != "postgres":
                assert (home / "logs" / f"{name}.log").exists()

        # the embedded model answers through LiteLLM-compatible /v1 (OpenAI API)
        import httpx

        reply = httpx.post(
            f"{urls['llm_base_url']}/v1/chat/completions",
            json={
                "model": "smollm2-135m",
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is the capital of France?"},
                ],
                "max_tokens": 20,
                "temperature": 0,
            },
            timeout=60,
            trust_env=False,
        )
        assert "Paris" in reply.json()["choices"][0]["message"]["content"]
        # `up` bootstrapped an Admin key for the local user, readable only by the owner
        key_file = home / "admin.key"
        assert state["urls"]["admin_key_file"] == str(key_file)
        assert "Admin API key" in up.stdout
        assert key_file.stat().st_mode & 0o077 == 0
        admin_key = key_file.read_text().strip()
        if "api" in components:
            assert httpx.get(f"{urls['api']}/healthz", trust_env=False).status_code == 200
            projects = f"{urls['api']}/api/v1/projects"
            assert httpx.get(projects, trust_env=False).status_code == 401
            assert (
                httpx.get(
                    projects, trust_env=False, headers={"Authorization": f"Bearer {admin_key}"}
                ).status_code
                == 200
            )
        assert httpx.get(urls["temporal_ui"], trust_env=False, timeout=10).status_code == 200

        # a row in the database survives down + up
        import psycopg

        from promptops.devstack.postgres import conninfo_kwargs

        with psycopg.connect(**conninfo_kwargs(urls["database_url"]), autocommit=True) as conn:
            conn.execute("CREATE TABLE stack_test_marker (x int)")
            conn.execute("INSERT INTO stack_test_marker VALUES (42)")

        status = _run(["status"], env, tmp_path, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        for label in ("Temporal", "Postgres", "LLM server"):
            assert label in status.stdout

        again = _run(["up", "--detach"], env, tmp_path, timeout=60)
        assert again.returncode == 0 and "already running" in again.stdout, (
            again.stdout + again.stderr
        )

        pids = list(state["pids"].values())
        down = _run(["down"], env, tmp_path, timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "Stopped" in down.stdout
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_gone(p) for p in pids):
            time.sleep(0.1)
        assert all(_gone(p) for p in pids), [p for p in pids if not _gone(p)]

        status = _run(["status"], env, tmp_path, timeout=60)
        assert status.returncode == 1
        down = _run(["down"], env, tmp_path, timeout=60)
        assert down.returncode == 0 and "Nothing is running" in down.stdout

        # second up after down: same data
        up = _run(["up", "--detach"], env, tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        assert key_file.read_text().strip() == admin_key  # the live key is kept, not reissued
        state = json.loads((home / "state.json").read_text())
        with psycopg.connect(**conninfo_kwargs(state["urls"]["database_url"])) as conn:
            assert conn.execute("SELECT x FROM stack_test_marker").fetchone() == (42,)
        assert (home / "temporal.db").stat().st_size > 0
    finally:
        _run(["down"], env, tmp_path, timeout=120)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    env = _stack_env(tmp_path / "home", ["temporal", "llm"])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["PROMPTOPS_LLM_PORT"])))
        blocker.listen()
        result = _run(["up", "--detach"], env, tmp_path, timeout=60)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert env["PROMPTOPS_LLM_PORT"] in out and "PROMPTOPS_LLM_PORT" in out
    assert "Traceback" not in out
    assert not (tmp_path / "home" / "state.json").exists()


def test_models_file_and_commands(tmp_path: Path) -> None:
    import yaml

    from promptops.devstack.components import enabled_components, stack_env
    from promptops.devstack.errors import StackError
    from promptops.devstack.llm import find_smollm2_gguf, write_embedded_models_file
    from promptops.devstack.postgres import socket_uri_to_sqlalchemy
    from promptops.devstack.temporal import dev_server_command, temporal_binary
    from promptops.settings import Settings

    doc = yaml.safe_load(
        write_embedded_models_file(tmp_path / "m.yaml", "http://127.0.0.1:9").read_text()
    )
    entry = doc["model_list"][0]
    assert entry["model_name"] == "smollm2-135m"
    assert entry["litellm_params"] == {
        "model": "openai/smollm2-135m",
        "api_base": "http://127.0.0.1:9/v1",
        "api_key": "none",
    }
    assert entry["model_info"]["input_cost_per_token"] == 0.0
    assert find_smollm2_gguf().stat().st_size > 50_000_000

    assert (
        socket_uri_to_sqlalchemy("postgresql://postgres:@/postgres?host=/a b/pgdata", "promptops")
        == "postgresql+psycopg://postgres@/promptops?host=/a%20b/pgdata"
    )

    settings = Settings(PROMPTOPS_HOME=str(tmp_path), PROMPTOPS_TEMPORAL_PORT=7300)
    cmd = dev_server_command(settings)
    assert cmd[:3] == [temporal_binary(), "server", "start-dev"]
    assert "--db-filename" in cmd and str(tmp_path / "temporal.db") in cmd
    assert "7300" in cmd and "PromptVersion=Keyword" in cmd

    assert enabled_components(Settings(PROMPTOPS_STACK_COMPONENTS="api, temporal")) == [
        "temporal",
        "api",
    ]
    with pytest.raises(StackError):
        enabled_components(Settings(PROMPTOPS_STACK_COMPONENTS="temporal,nope"))
    assert stack_env(
        {"urls": {"database_url": "u", "temporal_address": "a", "models_file": None}}
    ) == {
        "DATABASE_URL": "u",
        "TEMPORAL_ADDRESS": "a",
    }
