"""``IngestionWorkflow`` (one run per index + source) and the retrieval maintenance schedule."""
