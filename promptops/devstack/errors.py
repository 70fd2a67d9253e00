"""Errors of the embedded stack, written for people: what failed, in which component, and the
log (with its last lines) that says why. The CLI prints them as they are, never a traceback."""

from __future__ import annotations


class StackError(RuntimeError):
    """The embedded stack could not be started, reached or stopped."""

    def __init__(
        self,
        message: str,
        *,
        component: str | None = None,
        log: str | None = None,
        log_tail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.component = component
        self.log = log
        self.log_tail = log_tail


class PortInUseError(StackError):
    """A port the embedded stack needs is taken by another program."""
