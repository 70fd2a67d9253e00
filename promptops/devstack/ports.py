"""The TCP ports the embedded stack binds, checked before anything starts: a port that is taken
(or configured twice) is reported with its owner when known and the setting that moves it."""

from __future__ import annotations

import socket

from promptops.devstack.components import component_mode, connect_host
from promptops.devstack.errors import PortInUseError
from promptops.settings import Settings


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound (something listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((connect_host(host), port))
        except OSError:
            return True
    return False


def _port_owner(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            listening = conn.status == psutil.CONN_LISTEN
            if conn.laddr and conn.laddr.port == port and listening and conn.pid:
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except Exception:  # noqa: BLE001 - naming the owner is best effort
        return ""
    return ""


def required_ports(settings: Settings) -> list[tuple[str, str, int, str]]:
    """``(what, host, port, how to change it)`` for every port the embedded parts will bind."""
    ports: list[tuple[str, str, int, str]] = []
    if component_mode(settings, "temporal") == "embedded":
        ports.append(
            (
                "Temporal gRPC frontend",
                "127.0.0.1",
                settings.temporal_port,
                (
                    "set PROMPTOPS_TEMPORAL_PORT to a free port "
                    "(or TEMPORAL_ADDRESS to use a running server)"
                ),
            )
        )
        ports.append(
            (
                "Temporal Web UI",
                "127.0.0.1",
                settings.temporal_ui_port,
                "set PROMPTOPS_TEMPORAL_UI_PORT to a free port",
            )
        )
    if component_mode(settings, "llm") == "embedded":
        ports.append(
            (
                "local LLM server",
                "127.0.0.1",
                settings.llm_port,
                "set PROMPTOPS_LLM_PORT to a free port (or PROMPTOPS_MODELS to use other models)",
            )
        )
    if component_mode(settings, "api") == "embedded":
        ports.append(
            ("API", settings.api_host, settings.api_port, "set PROMPTOPS_API_PORT to a free port")
        )
    return ports


def check_ports(settings: Settings) -> None:
    """Raise :class:`PortInUseError` naming every needed port that is taken (and the env var)."""
    problems: list[str] = []
    seen: dict[int, str] = {}
    for what, host, port, fix in required_ports(settings):
        if port in seen:
            problems.append(f"{what} and {seen[port]} are both configured on port {port}: {fix}.")
            continue
        seen[port] = what
        if port_in_use(host, port):
            problems.append(f"Port {port} ({what}) is already in use{_port_owner(port)}: {fix}.")
    if problems:
        raise PortInUseError("\n".join(problems))
