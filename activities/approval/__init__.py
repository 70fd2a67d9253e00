"""Approval activities (database writes, reminders) for ``ApprovalWorkflow``."""
