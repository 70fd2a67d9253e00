from workflows.evaluation.workflow import BatchEvaluationWorkflow

__all__ = ["BatchEvaluationWorkflow"]
