"""The stages of the model-call pipeline, one module each (see :mod:`promptops.llm.pipeline`)."""
