"""``CanaryRolloutWorkflow`` (id ``canary-{deployment_id}``): ramp a prompt version's share of
``generate`` traffic through the plan's steps, watch the guards, promote or roll back.

The ramp: for each step below 100% an activity sets the deployment's ``canary_weight`` (the
``generate`` path reads it on every request), then the step bakes for ``bake_time_s``: a
durable timer fires every ``check_interval_s``, an activity computes each arm's figures over
the bake window, and the pure guards (:mod:`workflows.canary.guards`) judge them. A breach rolls
back at once (weight 0, status RolledBack, the reason recorded). When the bake ends the final
check also requires ``min_samples`` per arm and the eval-score gate; then the next step starts.
Reaching 100% promotes: the environment's label moves to the candidate, status Promoted.

Operators: signals ``pause`` / ``resume`` (the bake clock stops while paused, the weight is
held), updates ``promote_now`` (jump to 100%; the eval-score gate still applies) and ``abort``
(weight 0, status Aborted, with a reason). Query ``status`` at any time.

A database outage is not a failed guard: the deployment activities fail retryably
(``ServiceUnavailable``) and Temporal retries them; a mid-bake check that still gets no figures is
made up for by the next, and the check that decides a step holds the step and asks again every
check interval until the database is back (:meth:`CanaryRolloutWorkflow._verdict_figures`).
Any other failure to compute the figures by the end of a bake rolls back.

Timers are durable, so bakes of hours or days survive restarts of workers and of the server.
The history stays bounded: a check costs one timer and one activity, and the workflow continues
as new (carrying :class:`CanaryState`) when Temporal suggests it.
"""

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.deployment.declarations import (
        compute_deployment_figures,
        finish_deployment,
        set_deployment_step,
        start_deployment,
    )
    from activities.deployment.types import (
        ArmFigures,
        ComputeFiguresInput,
        ComputeFiguresResult,
        FinishDeploymentInput,
        SetStepInput,
        StartDeploymentInput,
    )
    from activities.errors import (
        INVALID_INPUT,
        INVALID_STATE,
        SERVICE_UNAVAILABLE,
        UPDATE_REJECTED,
    )
    from activities.retry_policies import DEPLOYMENT_FINISH, DEPLOYMENT_START, STANDARD
    from workflows.canary.guards import (
        eval_gate,
        evaluate_guards,
        resolve_eval_score,
        summarize,
    )
    from workflows.canary.types import (
        ABORTED,
        FINAL_STATUSES,
        PAUSED,
        PROMOTED,
        ROLLED_BACK,
        RUNNING,
        Breach,
        CanaryPlan,
        CanaryResult,
        CanaryRolloutInput,
        CanaryState,
        CanaryStatus,
        OperatorInput,
        OperatorResult,
        StepRecord,
    )

__all__ = ["CanaryRolloutWorkflow", "workflow_id_for"]

ACTIVITY_TIMEOUT = timedelta(minutes=2)
#: ``workflow.patched`` id: a check that decides (end of a bake, a plan of [100]) whose figures
#: failed only because the database was unavailable waits for it instead of rolling back.
WAIT_FOR_DATABASE = "canary-verdict-waits-for-database"


def workflow_id_for(deployment_id: object) -> str:
    """The workflow id (business key) of a deployment's rollout."""
    return f"canary-{deployment_id}"


@dataclass
class _Request:
    """An operator update waiting for the main loop to act on it."""

    kind: str  # promote_now | abort
    operator: OperatorInput
    done: bool = False
    error: str | None = None


@dataclass
class _Toggle:
    """The latest pause/resume signal (the main loop applies it)."""

    paused: bool
    operator: OperatorInput


def _iso(ts: datetime) -> str:
    return ts.isoformat()


@workflow.defn(name="CanaryRolloutWorkflow")
class CanaryRolloutWorkflow:
    def __init__(self) -> None:
        self._input: CanaryRolloutInput | None = None
        self._state = CanaryState()
        self._toggle: _Toggle | None = None
        self._requests: list[_Request] = []
        self._checks_this_run = 0
        #: Whether the last figures failed because the database was unavailable.
        self._database_unavailable = False

    # ------------------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: CanaryRolloutInput) -> CanaryResult:
        self._input = inp
        plan = inp.plan
        if (
            not plan.steps
            or plan.steps[-1] != 100
            or any(not 0 < s <= 100 for s in plan.steps)
            or any(a >= b for a, b in zip(plan.steps, plan.steps[1:]))
        ):
            raise ApplicationError(
                "plan.steps must rise strictly to 100", type=INVALID_INPUT, non_retryable=True
            )
        if len(plan.bake_time_s) < len(plan.steps) - 1:
            raise ApplicationError(
                "plan.bake_time_s needs one entry per step below 100%",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        if inp.state is not None:
            self._state = inp.state  # continued as new: pick up where the last run stopped
        try:
            await self._drive()
        finally:
            # Updates still waiting (e.g. an abort that raced a rollback) get an answer.
            for req in self._requests:
                if not req.done:
                    req.error = req.error or f"the deployment already ended ({self._state.status})"
                    req.done = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        st = self._state
        return CanaryResult(
            deployment_id=inp.deployment_id,
            status=st.status,
            reason=st.reason,
            step_index=st.step_index,
            canary_weight=st.canary_weight,
            breaches=st.breaches,
            history=st.history,
        )

    @property
    def _inp(self) -> CanaryRolloutInput:
        if self._input is None:
            raise ApplicationError("workflow input not set", non_retryable=True)
        return self._input

    @property
    def _plan(self) -> CanaryPlan:
        return self._inp.plan

    @property
    def _system_actor(self) -> str:
        return f"workflow:{workflow.info().workflow_id}"

    async def _drive(self) -> None:
        st = self._state
        if not st.started:
            started = await workflow.execute_activity(
                start_deployment,
                StartDeploymentInput(deployment_id=self._inp.deployment_id, actor=self._inp.actor),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=DEPLOYMENT_START,
            )
            st.started = True
            st.status = started.status
            st.project_id, st.prompt_id = started.project_id, started.prompt_id
            st.environment, st.label = started.environment, started.label
            st.candidate_version_id = started.candidate_version_id
            st.baseline_version_id = started.baseline_version_id
            if started.status in FINAL_STATUSES:
                st.reason = "the deployment had already ended"
                return
            if started.baseline_version_id is None:
                await self._finish(
                    PROMOTED, "first deployment: no baseline", step_index=len(self._plan.steps) - 1
                )
                return
            await self._enter_step(0)
        while st.status not in FINAL_STATUSES:
            if self._plan.steps[st.step_index] >= 100:
                # A plan of [100] promotes without a bake: the eval-score gate still applies.
                if st.step_index == 0 and await self._gate_blocks(None):
                    return
                await self._finish(
                    PROMOTED,
                    f"promoted after {len(self._plan.steps)} steps",
                    step_index=st.step_index,
                )
                return
            if not await self._bake():
                return  # ended during the bake (rollback, abort, promote now)
            if not await self._final_check():
                return
            await self._enter_step(st.step_index + 1)

    # ------------------------------------------------------------------------------ steps
    async def _enter_step(self, index: int) -> None:
        st = self._state
        now = _iso(workflow.now())
        if st.history and st.history[-1].ended_at is None:
            st.history[-1].ended_at = now
            st.history[-1].outcome = "promoted"
        percent = self._plan.steps[index]
        if percent < 100:
            await self._set_step(
                index,
                percent,
                RUNNING,
                "deployment.step",
                OperatorInput(actor=self._system_actor, reason=f"step {index + 1}: {percent:g}%"),
            )
        st.step_index = index
        st.bake_elapsed_s = 0.0
        st.window_started_at = _iso(workflow.now())
        st.figures = {}
        st.eval_score = None
        st.history.append(
            StepRecord(step_index=index, percent=percent, started_at=st.window_started_at)
        )

    async def _set_step(
        self, index: int, weight: float, status: str, action: str, operator: OperatorInput
    ) -> None:
        await workflow.execute_activity(
            set_deployment_step,
            SetStepInput(
                deployment_id=self._inp.deployment_id,
                step_index=index,
                canary_weight=weight,
                status=status,
                action=action,
                actor=operator.actor,
                reason=operator.reason,
                request_id=operator.request_id,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=STANDARD,
        )
        self._state.canary_weight = weight
        self._state.status = status

    async def _finish(
        self,
        status: str,
        reason: str,
        *,
        step_index: int,
        breaches: list[Breach] | None = None,
        operator: OperatorInput | None = None,
    ) -> None:
        st = self._state
        op = operator or OperatorInput(actor=self._system_actor)
        await workflow.execute_activity(
            finish_deployment,
            FinishDeploymentInput(
                deployment_id=self._inp.deployment_id,
                status=status,
                reason=reason,
                actor=op.actor,
                step_index=step_index,
                request_id=op.request_id,
                breaches=[dataclasses.asdict(b) for b in breaches or []],
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=DEPLOYMENT_FINISH,
        )
        now = _iso(workflow.now())
        outcome = {PROMOTED: "promoted", ROLLED_BACK: "rolled_back", ABORTED: "aborted"}[status]
        if st.history and st.history[-1].ended_at is None:
            self._close_pause(now)
            st.history[-1].ended_at = now
            st.history[-1].outcome = outcome
        if status == PROMOTED and (not st.history or st.history[-1].percent < 100):
            st.history.append(
                StepRecord(
                    step_index=step_index,
                    percent=100.0,
                    started_at=now,
                    ended_at=now,
                    outcome=outcome,
                )
            )
        st.status = status
        st.reason = reason
        st.step_index = step_index
        st.canary_weight = 100.0 if status == PROMOTED else 0.0
        if breaches:
            st.breaches = breaches

    # ------------------------------------------------------------------------------ bake
    def _has_request(self) -> bool:
        toggled = self._toggle is not None and self._toggle.paused != (self._state.status == PAUSED)
        return toggled or any(not r.done for r in self._requests)

    async def _bake(self) -> bool:
        """Bake the current step; False when the deployment ended meanwhile."""
        st = self._state
        bake = self._plan.bake_for(st.step_index)
        interval = self._plan.interval_for(st.step_index)
        while True:
            if not await self._apply_requests():
                return False
            if st.bake_elapsed_s >= bake:
                return True
            if st.status == PAUSED:
                await workflow.wait_condition(self._has_request)
                continue
            # Checks fall on multiples of the interval of baked (unpaused) time.
            next_check = min(float(bake), (int(st.bake_elapsed_s // interval) + 1) * interval)
            started = workflow.now()
            timed_out = False
            try:
                await workflow.wait_condition(
                    self._has_request, timeout=timedelta(seconds=next_check - st.bake_elapsed_s)
                )
            except TimeoutError:
                timed_out = True
            if timed_out:
                st.bake_elapsed_s = next_check
            else:
                waited = (workflow.now() - started).total_seconds()
                st.bake_elapsed_s = min(next_check, st.bake_elapsed_s + waited)
            if timed_out and st.bake_elapsed_s < bake and not await self._mid_bake_check():
                return False
            if not self._has_request() and (
                workflow.info().is_continue_as_new_suggested()
                or (
                    self._inp.max_checks_per_run
                    and self._checks_this_run >= self._inp.max_checks_per_run
                )
            ):
                # An update that arrives meanwhile waits for the main loop: act on it first.
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or self._has_request()
                )
                if not self._has_request():
                    workflow.continue_as_new(dataclasses.replace(self._inp, state=st))

    async def _figures(self) -> ComputeFiguresResult | None:
        st = self._state
        try:
            result = await workflow.execute_activity(
                compute_deployment_figures,
                ComputeFiguresInput(
                    deployment_id=self._inp.deployment_id,
                    window_start=st.window_started_at or _iso(workflow.now()),
                    # Stored as this check, for the figures over time (an added input field:
                    # same commands, so running rollouts replay unchanged).
                    check_index=st.checks + 1,
                    step_index=st.step_index,
                    canary_weight=st.canary_weight,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=STANDARD,
            )
        except ActivityError as exc:
            workflow.logger.warning("guard figures unavailable: %s", exc.cause or exc)
            self._database_unavailable = (
                isinstance(exc.cause, ApplicationError) and exc.cause.type == SERVICE_UNAVAILABLE
            )
            return None
        self._database_unavailable = False
        st.checks += 1
        self._checks_this_run += 1
        st.last_check_at = _iso(workflow.now())
        st.figures = {"baseline": result.baseline, "canary": result.canary}
        st.eval_score = resolve_eval_score(result.canary, result.approval_eval_score)
        return result

    async def _verdict_figures(self) -> ComputeFiguresResult | None:
        """Figures for a check that decides the rollout (the end of a bake, a plan of [100]).

        Figures that fail (after the activity's retries, minutes) because the platform's own
        database is unavailable say nothing about the candidate, and rolling back could not
        happen before the database is back either (the weights live there): the step is held
        and the figures asked for again every check interval until they come. Operator
        requests are acted on after that. Any other failure returns None (a breach)."""
        figures = await self._figures()
        while (
            figures is None and self._database_unavailable and workflow.patched(WAIT_FOR_DATABASE)
        ):
            interval = self._plan.interval_for(self._state.step_index)
            workflow.logger.warning(
                "the database is unavailable at a deciding check of step "
                "%d: checking again in %d s",
                self._state.step_index,
                interval,
            )
            await workflow.sleep(timedelta(seconds=interval))
            figures = await self._figures()
        return figures

    async def _mid_bake_check(self) -> bool:
        figures = await self._figures()
        if figures is None:
            return True  # a missed check mid-bake is made up for by the next one
        breaches = evaluate_guards(
            self._plan,
            self._state.step_index,
            figures.baseline,
            figures.canary,
            bake_ended=False,
            approval_eval_score=figures.approval_eval_score,
        )
        self._state.breaches = breaches
        if breaches:
            await self._finish(
                ROLLED_BACK,
                summarize(breaches),
                step_index=self._state.step_index,
                breaches=breaches,
            )
            return False
        return True

    async def _final_check(self) -> bool:
        st = self._state
        figures = await self._verdict_figures()
        if figures is None:
            breaches = [
                Breach(
                    "figures_unavailable",
                    None,
                    None,
                    "guard figures could not be computed by the end of the bake",
                )
            ]
        else:
            breaches = evaluate_guards(
                self._plan,
                st.step_index,
                figures.baseline,
                figures.canary,
                bake_ended=True,
                approval_eval_score=figures.approval_eval_score,
            )
        st.breaches = breaches
        if breaches:
            await self._finish(
                ROLLED_BACK, summarize(breaches), step_index=st.step_index, breaches=breaches
            )
            return False
        return True

    async def _gate_blocks(self, request: _Request | None) -> bool:
        """Apply the eval-score gate before a promotion that skips the bake. For an operator's
        ``promote_now`` a failed gate rejects the request; for a plan of [100] it rolls back."""
        figures = await (self._figures() if request is not None else self._verdict_figures())
        score = (
            resolve_eval_score(figures.canary, figures.approval_eval_score)
            if figures is not None
            else None
        )
        breach = eval_gate(self._plan, score)
        if breach is None:
            return False
        breach.message = f"cannot promote: {breach.message}"
        if request is not None:
            request.error = breach.message
            return True
        self._state.breaches = [breach]
        await self._finish(
            ROLLED_BACK, breach.message, step_index=self._state.step_index, breaches=[breach]
        )
        return True

    def _close_pause(self, now: str) -> None:
        st = self._state
        if st.paused_at is not None and st.history:
            paused = datetime.fromisoformat(now) - datetime.fromisoformat(st.paused_at)
            st.history[-1].paused_s += paused.total_seconds()
            st.paused_at = None

    async def _apply_requests(self) -> bool:
        """Act on operator requests in arrival order; False when the deployment ended."""
        st = self._state
        toggle = self._toggle
        if toggle is not None and toggle.paused != (st.status == PAUSED):
            if toggle.paused:
                await self._set_step(
                    st.step_index, st.canary_weight, PAUSED, "deployment.pause", toggle.operator
                )
                st.paused_at = _iso(workflow.now())
            else:
                await self._set_step(
                    st.step_index, st.canary_weight, RUNNING, "deployment.resume", toggle.operator
                )
                self._close_pause(_iso(workflow.now()))
        for req in self._requests:
            if req.done:
                continue
            if req.kind == "abort":
                reason = f"aborted by {req.operator.actor}: {req.operator.reason}"
                await self._finish(ABORTED, reason, step_index=st.step_index, operator=req.operator)
                req.done = True
                return False
            if req.kind == "promote_now":
                if await self._gate_blocks(req):
                    req.done = True
                    continue
                reason = f"promoted now by {req.operator.actor}"
                if req.operator.reason:
                    reason += f": {req.operator.reason}"
                await self._finish(
                    PROMOTED, reason, step_index=len(self._plan.steps) - 1, operator=req.operator
                )
                req.done = True
                return False
        return True

    # ------------------------------------------------------------------------------ handlers
    @workflow.signal(name="pause")
    def pause(self, op: OperatorInput) -> None:
        """Hold the current weight and stop the bake clock (no effect once finished)."""
        self._toggle = _Toggle(paused=True, operator=op)

    @workflow.signal(name="resume")
    def resume(self, op: OperatorInput) -> None:
        """Restart the bake clock where it stopped."""
        self._toggle = _Toggle(paused=False, operator=op)

    def _validate_active(self) -> None:
        if self._state.status in FINAL_STATUSES:
            raise ApplicationError(
                f"the deployment already ended ({self._state.status})", type=INVALID_STATE
            )

    @workflow.update(name="promote_now")
    async def promote_now(self, op: OperatorInput) -> OperatorResult:
        """Jump to 100% and promote (the eval-score gate still applies: a missing or low score
        fails the update and the rollout carries on)."""
        return await self._submit(_Request(kind="promote_now", operator=op))

    @promote_now.validator
    def _validate_promote_now(self, op: OperatorInput) -> None:
        self._validate_active()

    @workflow.update(name="abort")
    async def abort(self, op: OperatorInput) -> OperatorResult:
        """Stop the rollout: weight 0, status Aborted, ``op.reason`` recorded."""
        return await self._submit(_Request(kind="abort", operator=op))

    @abort.validator
    def _validate_abort(self, op: OperatorInput) -> None:
        self._validate_active()
        if not op.reason.strip():
            raise ApplicationError("abort needs a reason", type=INVALID_INPUT)

    async def _submit(self, request: _Request) -> OperatorResult:
        self._requests.append(request)
        await workflow.wait_condition(lambda: request.done)
        if request.error:
            raise ApplicationError(request.error, type=UPDATE_REJECTED)
        st = self._state
        return OperatorResult(
            status=st.status,
            step_index=st.step_index,
            canary_weight=st.canary_weight,
            reason=st.reason,
        )

    @workflow.query(name="status")
    def status(self) -> CanaryStatus:
        """Current step, weights, the last check's figures per arm, breaches and history."""
        st = self._state
        inp = self._input
        plan = inp.plan if inp else CanaryPlan()
        index = st.step_index
        in_range = 0 <= index < len(plan.steps)
        figures: dict[str, ArmFigures] = dict(st.figures)
        return CanaryStatus(
            deployment_id=inp.deployment_id if inp else "",
            status=st.status,
            step_index=index,
            step_percent=plan.steps[index] if in_range else None,
            weights={"baseline": 100.0 - st.canary_weight, "canary": st.canary_weight},
            paused=st.status == PAUSED,
            bake_time_s=plan.bake_for(index) if in_range else 0,
            bake_elapsed_s=st.bake_elapsed_s,
            check_interval_s=plan.interval_for(index) if in_range else 0,
            window_started_at=st.window_started_at,
            checks=st.checks,
            last_check_at=st.last_check_at,
            figures=figures,
            eval_score=st.eval_score,
            breaches=list(st.breaches),
            history=list(st.history),
            reason=st.reason,
            plan=dataclasses.asdict(plan),
        )
