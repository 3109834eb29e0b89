"""The school's learning activities: roster writes, ledger statistics, domain discovery,
spawning, tuned settings, the exemplar bank and its quality gate.

Thin adapters: the decisions are in `tutelage.policy`; these read and write the worker's stores
and, where a member's state must change, ask its MemberWorkflow through a Temporal Update.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from ..models import AnswerRequest, MemberAnswer
from ..models.dashboard import Dashboard, DashboardRequest
from ..models.lifecycle import (
    AppliedTransition,
    ApplyAdoption,
    ApplyTransition,
    DiscoverRequest,
    DiscoverResult,
    DistillRequest,
    DistillResult,
    EvolutionInputs,
    Exemplar,
    GateRequest,
    GateResult,
    HandoverWrite,
    MemberState,
    MemberWorkflowInput,
    RosterReport,
    RosterReportRequest,
    RosterRow,
    RosterWrite,
    RosterWriteResult,
    SettingsWrite,
    SpawnPlan,
    StatsRequest,
    StatsResult,
    Transition,
)
from ..options import member_workflow_id
from ..policy.answers import agreement_score
from ..policy.cost import relative_costs
from ..policy.distill import (
    choose_exemplars,
    exemplar_sources,
    exemplar_tenants,
    export_dir_name,
    gate,
    learns_from_exemplars,
    to_chat_jsonl_record,
    visible_to,
    withdrawn_exemplars,
)
from ..policy.domains import best_kmeans, cluster_count, name_clusters
from ..policy.feedback import USER_JUDGE, correction_exemplar
from ..providers.pricing import member_price
from ..services import Services
from ..store import stats
from ..store.dashboard import in_window, read_dashboard
from . import names

MEMBER_WORKFLOW = "MemberWorkflow"


def _update_id() -> str | None:
    """One id per activity, the same on each retry: a retried activity whose Update already
    landed (its worker died after sending it) gets that Update's result, not a second move.
    None (a fresh id) when called outside an activity (the benchmark's inline engine)."""
    if not activity.in_activity():
        return None
    info = activity.info()
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


class LifecycleActivities:
    def __init__(
        self,
        services: Services,
        client: Client | None,
        answer: Callable[[AnswerRequest], Any] | None = None,
    ) -> None:
        self.s = services
        self.client = client
        # The query path's answer activity, reused by the quality gate to ask a student.
        self._answer = answer

    # -- roster --------------------------------------------------------------------------

    @activity.defn(name=names.WRITE_ROSTER)
    async def write_roster(self, req: RosterWrite) -> RosterWriteResult:
        await asyncio.to_thread(self.s.roster.write, req.state, req.transition)
        await asyncio.to_thread(self.s.refresh)
        return RosterWriteResult()

    def roster_states(self) -> list[MemberState]:
        """Every member's state: the lifecycle's where written, else the configured one."""
        written = {m.spec.id: m for m in self.s.roster.states()}
        configured = [written.get(spec.id) or MemberState(spec=spec)
                      for spec in self.s.config.member_specs()]  # fmt: skip
        return configured + [m for m in written.values()
                             if m.spec.id not in {c.spec.id for c in configured}]  # fmt: skip

    def _client(self) -> Client:
        if self.client is None:
            raise ApplicationError("no Temporal client in this worker", type="ConfigurationError",
                                   non_retryable=True)  # fmt: skip
        return self.client

    def _member(self, member_id: str) -> WorkflowHandle[Any, Any]:
        return self._client().get_workflow_handle(
            member_workflow_id(member_id, self.s.config.temporal.task_queue)
        )

    @activity.defn(name=names.APPLY_TRANSITION)
    async def apply_transition(self, req: ApplyTransition) -> AppliedTransition:
        """Ask the member's workflow to move; a refused move is a result, not a failure."""
        handle = self._member(req.member_id)
        try:
            done = await handle.execute_update("transition", req.request, result_type=Transition,
                                               id=_update_id())  # fmt: skip
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = getattr(cause, "message", None) or str(cause or exc)
            return AppliedTransition(member_id=req.member_id, applied=False, error=message)
        return AppliedTransition(member_id=req.member_id, applied=True, transition=done)

    @activity.defn(name=names.SPAWN_MEMBER)
    async def spawn_member(self, plan: SpawnPlan) -> AppliedTransition:
        """Start the new member's lifecycle (idempotent: an existing workflow is kept)."""
        state = MemberState(spec=plan.spec)
        await start_member(self._client(), self.s.config.temporal.task_queue, state, False)
        return AppliedTransition(member_id=plan.spec.id, applied=True)

    # -- statistics ----------------------------------------------------------------------

    def _judge_margin(self) -> float:
        return self.s.school.routing.win_margin

    def _window(self, requested: int | None) -> int:
        return self.s.config.evolution.cluster_window if requested is None else requested

    @activity.defn(name=names.PROMOTION_STATS)
    async def promotion_stats(self, req: StatsRequest) -> StatsResult:
        cfg = self.s.config
        members = await asyncio.to_thread(stats.member_domain_stats, self.s.ledger,
                                          cfg.supervisor, self._judge_margin(), self._window(req.window))  # fmt: skip
        pairs = await asyncio.to_thread(stats.pair_stats, self.s.ledger, cfg.judge.pass_score,
                                        self._window(req.window))  # fmt: skip
        roster = await asyncio.to_thread(self.roster_states)
        return StatsResult(members=members, roster=roster, supervisor=cfg.supervisor,
                           settings=cfg.promotion, win_margin=self._judge_margin(),
                           judge=cfg.judge, pairs=pairs, peer_review=cfg.peer_review,
                           costs={m.id: m.relative_cost for m in self.s.school.members})  # fmt: skip

    @activity.defn(name=names.EVOLUTION_INPUTS)
    async def evolution_inputs(self, req: StatsRequest) -> EvolutionInputs:
        cfg, ledger = self.s.config, self.s.ledger
        r = self.s.school.routing
        return EvolutionInputs(
            domains=await asyncio.to_thread(stats.domain_stats, ledger, self._window(req.window)),
            # Users' verdicts ride along; the policy weighs them (policy/evolution.py).
            members=await asyncio.to_thread(
                stats.member_domain_stats,
                ledger,
                cfg.supervisor,
                r.win_margin,
                self._window(req.window),
            ),
            roster=await asyncio.to_thread(self.roster_states),
            candidates=cfg.candidate_specs(),
            threshold_rows=await asyncio.to_thread(
                stats.threshold_rows, ledger, cfg.supervisor, self._window(req.window)
            ),  # fmt: skip
            routing={
                "low_threshold": r.low_threshold,
                "high_threshold": r.high_threshold,
                "shadow_rate": r.shadow_rate,
            },  # fmt: skip
            supervisor=cfg.supervisor,
            settings=cfg.evolution,
            promotion=cfg.promotion,
            peers=self.s.school.peers,
            pairs=await asyncio.to_thread(stats.pair_stats, ledger, cfg.judge.pass_score,
                                          self._window(req.window)),
            costs={m.id: m.relative_cost for m in self.s.school.members},
            candidate_costs=self._candidate_costs(),
            peer_review=cfg.peer_review,
        )  # fmt: skip

    def _candidate_costs(self) -> dict[str, float]:
        """Each candidate's nominal call cost relative to the supervisor's."""
        cfg = self.s.config
        prices = {c.id: member_price(c) for c in cfg.candidate_specs()}
        return {c: cost for c, cost in relative_costs(
            {**prices, cfg.supervisor: self.s.price(cfg.supervisor)}, cfg.supervisor).items()
            if c in prices}  # fmt: skip

    @activity.defn(name=names.DISCOVER_DOMAINS)
    async def discover_domains(self, req: DiscoverRequest) -> DiscoverResult:
        """k-means over stored query embeddings; names survive re-clustering (see policy)."""

        def run() -> DiscoverResult:
            conf = self.s.config.evolution
            vectors = self.s.memory.vectors(self._window(req.window))
            k = (conf.clusters if req.clusters is None else req.clusters) or cluster_count(
                len(vectors)
            )
            if k <= 1:
                return DiscoverResult(domains=sorted(self.s.clusters), queries=len(vectors))
            old = self.s.roster.clusters()
            start = np.array([old[name] for name in sorted(old)]) if old else None
            centroids = best_kmeans(np.asarray(vectors), k, conf.cluster_restarts, start)
            named = name_clusters(centroids, old)
            self.s.roster.replace_clusters(named)
            self.s.refresh()
            return DiscoverResult(domains=sorted(named), queries=len(vectors))

        return await asyncio.to_thread(run)

    @activity.defn(name=names.SAVE_JUDGES)
    async def save_judges(self, req: HandoverWrite) -> RosterWriteResult:
        """The domains handed over to a teacher-judge, and those on peer review."""
        await asyncio.to_thread(self.s.roster.replace_judges, req.judges, req.peers)
        await asyncio.to_thread(self.s.refresh)
        return RosterWriteResult()

    @activity.defn(name=names.SAVE_ROUTING)
    async def save_routing(self, req: SettingsWrite) -> RosterWriteResult:
        await asyncio.to_thread(self.s.roster.add_routing_change, req.change)
        await asyncio.to_thread(self.s.refresh)
        return RosterWriteResult()

    # -- distillation --------------------------------------------------------------------

    @activity.defn(name=names.COLLECT_EXEMPLARS)
    async def collect_exemplars(self, req: DistillRequest) -> DistillResult:
        """Winning supervisor and teacher answers into the bank, and users' corrections (gold,
        for their tenant: a corrected query's served answer is not banked, and a served answer
        users rated is banked by their score); JSONL per learner."""

        conf = self.s.config.distillation
        min_score = conf.min_score if req.min_score is None else req.min_score
        window = conf.window if req.window is None else req.window

        def run() -> DistillResult:
            s = self.s
            school = s.school
            # Rows banked before exemplars carried a tenant get theirs from the memory.
            restored = s.exemplars.assign_tenants(s.memory.tenants_of(s.exemplars.untenanted()))
            teachers = exemplar_sources(school.members)
            reasons = dict(
                ((q, m), r or "") for q, m, r in s.ledger.rows(
                    "SELECT query_id, member_id, reasoning FROM verdicts WHERE reasoning <> ''"
                    " AND judge <> ?", [USER_JUDGE])
            )  # fmt: skip
            rated = s.ledger.served_user_scores()
            corrections = s.ledger.corrections()
            standing = {c[0]: c[4] for c in corrections}
            # What users took back since it was banked leaves the bank first.
            withdrawn = s.exemplars.withdraw(withdrawn_exemplars(s.exemplars.ids(), rated,
                                                                 standing, min_score))  # fmt: skip
            found, vectors = self._corrections(corrections)
            corrected = set(standing)
            for row in s.memory.winners(teachers, window):
                if row["query_id"] in corrected:
                    continue  # users gave a better answer: theirs is the exemplar
                score = rated.get(row["query_id"], row["scores"].get(row["winner"]))
                if score is None:
                    continue
                found.append(Exemplar(
                    exemplar_id=row["query_id"], domain=row["domain"] or "*",
                    question=row["text"], answer=row["final_answer"] or "",
                    source=row["winner"], score=float(score),
                    reasoning=reasons.get((row["query_id"], row["winner"]), ""),
                    tenant=row["tenant"],
                ))  # fmt: skip
                vectors[row["query_id"]] = row["vector"]
            fresh = choose_exemplars(found, s.exemplars.ids(), min_score)
            added = s.exemplars.add([(e, vectors[e.exemplar_id]) for e in fresh])
            version = s.exemplars.version()
            learners = {m.id: m.exemplar_version for m in school.members
                        if any(learns_from_exemplars(m, d) for d in [None, *s.clusters])}  # fmt: skip
            by_tenant = self._export(learners, version)
            exported: dict[str, int] = {}
            for per_member in by_tenant.values():
                for member_id, lines in per_member.items():
                    exported[member_id] = exported.get(member_id, 0) + lines
            return DistillResult(learners=learners, added=added, withdrawn=withdrawn,
                                 bank_size=s.exemplars.size(),
                                 bank_version=version, exported=exported,
                                 exported_by_tenant=by_tenant, tenants_restored=restored,
                                 held_out=conf.held_out)  # fmt: skip

        return await asyncio.to_thread(run)

    def _corrections(self, corrections: list[tuple[str, str, str | None, str, int]]
                     ) -> tuple[list[Exemplar], dict[str, list[float]]]:  # fmt: skip
        """Users' corrections not yet banked, as gold exemplars of their query's tenant and
        domain, with their query's embedding. A correction of a query the memory does not hold
        (a cache hit: its question was never stored) stays in the ledger, unbanked."""
        s = self.s
        banked = s.exemplars.ids()
        waiting = [c for c in corrections if f"{c[0]}:correction-{c[4]}" not in banked]
        rows = s.memory.by_ids({c[0] for c in waiting}) if waiting else {}
        found, vectors = [], {}
        for query_id, tenant, domain, text, seq in waiting:
            row = rows.get(query_id)
            if row is None:
                continue
            e = correction_exemplar(query_id, seq, tenant, domain or row["domain"],
                                    row["text"], text)  # fmt: skip
            found.append(e)
            vectors[e.exemplar_id] = row["vector"]
        return found, vectors

    def _export(self, learners: dict[str, int], version: int) -> dict[str, dict[str, int]]:
        """OpenAI chat JSONL per tenant and learner (`distill/<tenant>/<member>.jsonl`): the
        exemplars of the domains it learns that the tenant's queries may be shown."""
        shared = self.s.config.distillation.shared_exemplar_tenants
        bank = self.s.exemplars.all(version)
        written: dict[str, dict[str, int]] = {}
        for tenant in sorted({e.tenant for e in bank}):
            visible = visible_to(tenant, shared, bank)
            if not visible:
                continue  # the unknown tenant's rows: exported for nobody
            out_dir = self.s.config.data_dir / "distill" / export_dir_name(tenant)
            out_dir.mkdir(parents=True, exist_ok=True)
            for member_id in learners:
                m = self.s.school.member(member_id)
                rows = [e for e in visible
                        if learns_from_exemplars(m, None if e.domain == "*" else e.domain)]  # fmt: skip
                path = out_dir / f"{member_id}.jsonl"
                tmp = path.with_suffix(".jsonl.tmp")
                with tmp.open("w", encoding="utf-8") as f:
                    for e in rows:
                        f.write(json.dumps(to_chat_jsonl_record(e)) + "\n")
                tmp.replace(path)
                written.setdefault(tenant, {})[member_id] = len(rows)
        return written

    @activity.defn(name=names.QUALITY_GATE)
    async def quality_gate(self, req: GateRequest) -> GateResult:
        """Re-ask held-out judged queries with the old and the new bank; compare by agreement
        with the answer that won them (the supervisor's or a teacher's)."""
        s = self.s
        m = s.school.member(req.member_id)
        # Not held out: a banked query, nor one whose served answer users corrected or rated
        # below the pass score (it is what a student's answer is compared with).
        doubted = {c[0] for c in await asyncio.to_thread(s.ledger.corrections)}
        doubted |= {q for q, v in (await asyncio.to_thread(s.ledger.served_user_scores)).items()
                    if v < s.config.judge.pass_score}  # fmt: skip
        held = await asyncio.to_thread(s.memory.held_out, exemplar_sources(s.school.members),
                                       s.exemplars.ids() | doubted,
                                       req.held_out)  # fmt: skip
        if self._answer is None or not held:
            return gate(req.member_id, req.bank_version, m.exemplar_version, [], [])
        k = s.school.exemplars_k
        shared = s.config.distillation.shared_exemplar_tenants

        async def score(version: int) -> list[float]:
            out = []
            for row in held:
                # A held-out query is re-asked with the exemplars its own tenant may be shown.
                tenants = exemplar_tenants(row["tenant"], shared)
                shots = (await asyncio.to_thread(s.exemplars.nearest, row["domain"], row["vector"],
                                                 k, version, tenants)) if version else []  # fmt: skip
                shots = [e for e in shots if e.exemplar_id != row["query_id"]]
                try:
                    ans: MemberAnswer = await self._answer(AnswerRequest(  # type: ignore[misc]
                        query_id=f"gate-{row['query_id']}", member_id=m.id, model=m.model,
                        text=row["text"], timeout_s=m.timeout_s, exemplars=shots))  # fmt: skip
                    out.append(agreement_score(ans.text or "", row["final_answer"] or ""))
                except ApplicationError:
                    out.append(0.0)
            return out

        old = await score(m.exemplar_version)
        new = await score(req.bank_version)
        return gate(req.member_id, req.bank_version, m.exemplar_version, new, old)

    @activity.defn(name=names.ROSTER_REPORT)
    async def roster_report(self, req: RosterReportRequest) -> RosterReport:
        def run() -> RosterReport:
            s = self.s
            per = stats.member_domain_stats(s.ledger, "", s.school.routing.win_margin,
                                            self._window(req.window))  # fmt: skip
            roster = {st.spec.id: st for st in self.roster_states()}
            rows = []
            for m in s.school.members:
                mine = [p for p in per if p.member_id == m.id]
                judged = sum(p.judged for p in mine)
                st = roster.get(m.id)
                last = st.last if st else None
                roles = {"*": m.role_in(None).value, **{d: r.value for d, r in m.roles.items()}}
                rows.append(RosterRow(
                    member_id=m.id, model=m.model, roles=roles, judged=judged,
                    win_rate=sum(p.wins for p in mine) / judged if judged else None,
                    mean_score=sum(p.score_sum for p in mine) / judged if judged else None,
                    cost_usd=sum(p.cost_usd for p in mine), answers=sum(p.answers for p in mine),
                    exemplar_version=m.exemplar_version,
                    last_transition=(f"{last.action.value} {last.domain}: {last.from_role.value}"
                                     f" -> {last.to_role.value} ({last.by}, {last.at[:19]})"
                                     if last else ""),
                ))  # fmt: skip
            return RosterReport(rows=rows, domains=sorted(s.clusters),
                                transitions=s.roster.transitions(),
                                routing_changes=s.roster.routing_changes())  # fmt: skip

        return await asyncio.to_thread(run)

    @activity.defn(name=names.DASHBOARD)
    async def dashboard(self, req: DashboardRequest) -> Dashboard:
        def run() -> Dashboard:
            board = read_dashboard(self.s.ledger, req, datetime.now(UTC), self.s.config.judge)
            school = {m.id: m for m in self.s.school.members}
            for line in board.members:
                m = school.get(line.member_id)
                if m is not None:
                    line.model = m.model
                    line.roles = {"*": m.role_in(None).value,
                                  **{d: r.value for d, r in m.roles.items()}}  # fmt: skip
            # The window's transitions (their times are the workflows' clock, UTC ISO).
            board.transitions = [t for t in self.s.roster.transitions(limit=100_000)
                                 if in_window(t.at, board.since, board.until)]  # fmt: skip
            return board

        return await asyncio.to_thread(run)

    @activity.defn(name=names.APPLY_ADOPTION)
    async def apply_adoption(self, req: ApplyAdoption) -> AppliedTransition:
        handle = self._member(req.member_id)
        try:
            await handle.execute_update("adopt_exemplars", req.request, result_type=MemberState,
                                        id=_update_id())  # fmt: skip
        except WorkflowUpdateFailedError as exc:
            return AppliedTransition(member_id=req.member_id, applied=False, error=str(exc.cause))
        return AppliedTransition(member_id=req.member_id, applied=True)

    def all(self) -> list[Any]:
        return [self.write_roster, self.apply_transition, self.spawn_member,
                self.promotion_stats, self.evolution_inputs, self.discover_domains,
                self.save_routing, self.save_judges, self.collect_exemplars, self.quality_gate,
                self.roster_report, self.apply_adoption, self.dashboard]  # fmt: skip


async def start_member(
    client: Client, task_queue: str, state: MemberState, supervisor: bool
) -> None:
    """Start `member-<id>` unless it is already running (then this does nothing)."""
    try:
        await client.start_workflow(
            MEMBER_WORKFLOW,
            MemberWorkflowInput(state=state, supervisor=supervisor),
            id=member_workflow_id(state.spec.id, task_queue),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except RPCError as exc:  # pragma: no cover - server refusing for another reason
        raise ApplicationError(
            f"cannot start {member_workflow_id(state.spec.id, task_queue)}: {exc}"
        ) from None
