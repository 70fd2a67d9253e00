from workflows.approval.workflow import ApprovalWorkflow

__all__ = ["ApprovalWorkflow"]
