"""Provider clients: LiteLLM for every provider, and a direct client for OpenAI-compatible
servers (the fast path; see :mod:`promptops.llm.gateway`)."""
