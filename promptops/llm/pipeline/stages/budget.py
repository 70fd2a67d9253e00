"""The budget stage: reserve the call's maximum usage before the provider is asked, settle
with the provider-reported usage after (with the run record), give it back on failure
(protocol and formulas in :mod:`promptops.llm.budgets`). A project without limits costs
nothing here. Raises :class:`promptops.errors.BudgetExceeded` (429, naming the budget) before
any provider call and with nothing recorded."""

from __future__ import annotations

from promptops import telemetry
from promptops.errors import BudgetExceeded
from promptops.llm.budgets.guard import BudgetGuard, hold_to_bound
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, around
from promptops.llm.structured import DEFAULT_MAX_ATTEMPTS


class BudgetStage:
    """See the module docstring. ``structured_attempts``: provider calls a structured-output
    call may make (the reservation covers all of them)."""

    name = "budget"

    def __init__(self, structured_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.structured_attempts = structured_attempts

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        project, route = call.routed()
        if not project.budget.any:
            return await call_next(call)
        guard = BudgetGuard(call.db)
        try:
            reservation = await guard.reserve(
                project.id,
                route.entries,
                call.messages,
                call.decoding.get("max_tokens"),
                attempts=self.structured_attempts if call.schema is not None else 1,
                limits=project.budget,
            )
        except BudgetExceeded:
            telemetry.record_budget_rejection()
            raise
        # The bound assumed DEFAULT_MAX_TOKENS when the call set no max_tokens: hold the
        # provider to it.
        hold_to_bound(call.decoding, reservation)
        call.reservation = reservation
        if reservation is None:
            return await call_next(call)

        async def settle(_: CallOutcome) -> None:
            usd, tokens = call.spent()

            async def write() -> None:
                await guard.settle(reservation, usd=usd, tokens=tokens)

            call.commit_with_run.append(write)

        async def give_back(_: BaseException) -> None:
            usd, tokens = call.spent()  # what the provider already charged stays spent
            await guard.settle(reservation, usd=usd, tokens=tokens)

        return await around(call, call_next, after=settle, on_error=give_back)
