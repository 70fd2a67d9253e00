"""Activities: the I/O done on behalf of workflows, one package per family.

A family ``activities/<family>/`` has three parts:

- ``types.py``: the dataclasses an activity takes and returns (one input, one result each);
- ``declarations.py``: one typed declaration per activity (``@activity.defn(name=...)`` on a
  body-less function). Workflows call activities through them,
  ``workflow.execute_activity(plan_evaluation, PlanEvaluationInput(...), ...)``, and the SDK
  takes the activity type name and the result type from the declaration (no string names, no
  ``result_type=``). They import only ``temporalio`` and ``types.py``, so workflow modules may
  import them. A workflow imports its inputs from ``types.py`` too, and must: the SDK decodes a
  result by resolving its dataclass's annotations through ``sys.modules``, which inside the
  workflow sandbox holds only what the workflow module imports itself (so inputs and results of
  a family live in its ``types.py``);
- ``activities.py``: the implementation, a class built with its clients (database, model-call
  pipeline), whose methods carry the same ``@activity.defn`` names. Workflow modules never
  import it (an import contract in ``pyproject.toml`` forbids it). ``workers.main`` registers
  its bound methods, and ``tests/unit/test_activity_declarations.py`` proves that each
  declaration has an implementation registered under the same name with the same input and
  result types.

Shared by every family: :mod:`activities.errors` (``ApplicationError`` types and the mapping of
domain errors) and :mod:`activities.retry_policies`.
"""
