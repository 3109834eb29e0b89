"""`tutelage bench`: stream recorded items through the school, the same code path as live
traffic, one school per cost weight; each dataset's report (`routellm_report`,
`llmrouter_report`) measures it against that dataset's fixed routers.

The protocol, honestly: the school chooses with no gold unless the judge is `reference` (an
oracle, labelled so), and under `split` a scored row never carries its gold; a cache hit scores
whether the cached answer is right for the question asked (`served.py`); with
`--feedback-rate R` a user rates the served answer after it was served and before the next item
(`policy/bench_feedback.py`), through the same store activity as `POST /v1/feedback`."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..config import TutelageConfig
from ..models import JudgeMode, QueryInput, QueryResult
from ..models.feedback import FeedbackRequest
from ..policy.bench_feedback import ratable, rating_arrives, rating_flipped, user_score
from ..policy.routing import takes_part
from ..providers.catalog import ConfigCatalog
from ..providers.embedders import make_embedder
from . import metrics
from .common import DEFAULT_SWEEP as DEFAULT_SWEEP
from .common import BenchOptions, Run, gold_at_serve, recorded_model
from .datasets import DatasetError, Item, sample_stream
from .engines import CachedEmbedder, open_engine
from .llmrouter_report import llmrouter_report
from .routellm_report import routellm_report
from .served import cache_hit_score, cached_query_id


def stream(opts: BenchOptions, protocol: str | None = None) -> list[Item]:
    """The seeded stream. LLMRouter's `split` protocol learns on its train rows and is scored
    on its test rows: the same items, train rows first (each part in the seeded order)."""
    items = sample_stream(opts.dataset, opts.data_dir, opts.seed, opts.limit, opts.subjects)
    if opts.dataset == "llmrouter" and (protocol or opts.protocol) == "split":
        items = [it for it in items if it.split != "test"] + [it for it in items if it.split == "test"]
    return items


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def stream_embeddings(items: list[Item], out_dir: Path, embedder_name: str) -> np.ndarray:
    """The items' embeddings in stream order. Cached per text in `out_dir/cache` (one file per
    embedder), so any subset or order of a dataset embeds each question once."""
    path = out_dir / "cache" / f"embeddings-{_text_key(embedder_name)}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as cached:
            known = dict(zip(cached["keys"].tolist(), cached["vectors"], strict=True))
    missing = sorted({it.prompt for it in items if _text_key(it.prompt) not in known})
    if missing:
        # A one-off bulk encode with the machine to itself: every core.
        embedder = make_embedder(embedder_name, threads=os.cpu_count() or 1)
        for i in range(0, len(missing), 64):
            batch = missing[i : i + 64]
            for text, vector in zip(batch, embedder.embed(batch), strict=True):
                known[_text_key(text)] = np.asarray(vector, dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(known)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([known[k] for k in keys]))
        tmp.replace(path)
    return np.stack([known[_text_key(it.prompt)] for it in items])


def bench_config(
    base: TutelageConfig, opts: BenchOptions, cost_weight: float, run_dir: Path,
    blind_rows: bool = False,
) -> TutelageConfig:  # fmt: skip
    """The run's school. A query with its gold answer is judged by it whatever the mode; the
    mode judges the others: agreement, label-free (the replayed supervisor cannot judge as an
    LLM). So reference judging keeps the LLM mode only where every query carries its gold
    (`online`), as it always has; with `blind_rows` (the scored rows of `split`) it is
    agreement."""
    cfg = base.model_copy(deep=True)
    cfg.data_dir = run_dir
    cfg.replay.data_dir = opts.data_dir.resolve()
    cfg.routing.cost_weight = cost_weight
    oracle_everywhere = opts.judge == "reference" and not blind_rows
    cfg.judge.mode = JudgeMode.LLM if oracle_everywhere else JudgeMode.AGREEMENT
    if not opts.evolution:
        sch = cfg.schedules
        sch.promotion_every_queries = sch.evolution_every_queries = 0
        sch.distillation_every_queries = 0
    return cfg


def _roles(services: Any) -> dict[str, dict[str, str]]:
    school = services.school
    return {m.id: {"*": m.role_in(None).value, **{d: r.value for d, r in sorted(m.roles.items())}}
            for m in school.members}  # fmt: skip


def _changes(at: int, before: dict[str, dict[str, str]], now: dict[str, dict[str, str]],
             services: Any) -> list[tuple[int, str, str, str, str]]:  # fmt: skip
    """Roster changes between two readings: a new member (spawned) once, for its domain."""
    spawned_for = {st.spec.id: st.spec.spawned_for for st in services.roster.states()}
    out = []
    for member, domains in now.items():
        if member not in before:
            home = spawned_for.get(member) or "*"
            out.append((at, member, home, "-", domains.get(home, domains.get("*", "-"))))
            continue
        was = before[member]
        for d, role in domains.items():
            old = was.get(d, was.get("*", "-"))
            if role != old:
                out.append((at, member, d, old, role))
    return out


def _roster_by_domain(services: Any, seen: list[str | None]) -> dict[str, dict[str, str]]:
    """The whole roster under "*"; under each domain (the discovered ones and those queries
    carried) the members that take part there with their role: not those retired from it, nor
    a candidate on probation in another domain."""
    members = services.school.members
    by_domain = {"*": {m.id: m.role_in(None).value for m in members}}
    for d in sorted(set(services.clusters) | {d for d in seen if d}):
        by_domain[d] = {m.id: m.role_in(d).value for m in members if takes_part(m, d)}
    return by_domain


def served_outcome(it: Item, result: QueryResult, model: str | None,
                   cached: Item | None) -> metrics.Outcome:  # fmt: skip
    """The item as the school handled it: the served answer's recorded score (a cache hit's:
    whether the cached answer is right for this question, `served.py`), supervisor call, cost."""
    score, cache = 0.0, ""
    if result.status == "ok" and result.cache_hit:
        score, cache = cache_hit_score(it, cached, result.answer or "", model)
    elif result.status == "ok" and model:
        score = it.score(model)
    return metrics.Outcome(score=score, strong_called=result.supervisor_called,
                           cost_usd=result.cost_usd, cache=cache)  # fmt: skip


async def run_once(
    base: TutelageConfig, opts: BenchOptions, items: list[Item], embedder: CachedEmbedder,
    cost_weight: float, live: Any = None, label: str = "", protocol: str | None = None,
) -> Run:  # fmt: skip
    run_id = uuid.uuid4().hex[:6]
    gold = gold_at_serve(items, opts.judge, protocol or opts.protocol)
    cfg = bench_config(base, opts, cost_weight, opts.out_dir / "runs" / run_id,
                       blind_rows=not all(gold))  # fmt: skip
    catalog = ConfigCatalog(cfg)
    run = Run(cost_weight, gold_at_serve=gold)
    asked: dict[str, int] = {}  # query id -> its place in the stream
    async with open_engine(opts.engine, cfg, embedder) as engine:
        services = engine.services
        run.roles = _roles(services)
        seen = len(services.roster.transitions(limit=1_000_000))
        for i, it in enumerate(items):
            query = QueryInput(
                text=it.prompt, query_id=f"bench-{run_id}-{i:05d}", draw_key=f"{opts.seed}-{i}",
                reference=it.reference if gold[i] else None,
                domain=it.subject if opts.task_labels else None,
            )  # fmt: skip
            asked[query.query_id] = i
            result: QueryResult = await engine.ask(query)
            model = recorded_model(catalog, result.winner)
            at = asked.get(cached_query_id(result) or "")
            outcome = served_outcome(it, result, model, items[at] if at is not None else None)
            run.outcomes.append(outcome)
            if (result.status == "ok" and ratable(outcome.cache)
                    and rating_arrives(opts.seed, it.item_id, opts.feedback_rate)):  # fmt: skip
                flipped = rating_flipped(opts.seed, it.item_id, opts.feedback_noise)
                rated = await engine.rate(FeedbackRequest(
                    query_id=query.query_id, tenant=query.tenant, source="bench",
                    score=user_score(outcome.score, flipped)))  # fmt: skip
                run.ratings.append((i, user_score(outcome.score, flipped), flipped))
                run.user_verdicts += len(rated.verdicts)
            run.routes.append(result.route.value)
            run.winners.append(result.winner)
            run.domains.append(result.domain)
            if result.triggered:
                now = _roles(services)
                run.events += _changes(i + 1, run.roles, now, services)
                run.roles = now
                moved = services.roster.transitions(limit=1_000_000)
                run.transitions += [(i + 1, t) for t in moved[seen:]]
                seen = len(moved)
            if live is not None and (i % 10 == 0 or i == len(items) - 1):
                live.update(_progress(label, i + 1, len(items), run))
        run.roster_by_domain = _roster_by_domain(services, run.domains)
        run.peers = {d: p.members for d, p in services.school.peers.items()}
    return run


def _progress(label: str, done: int, total: int, run: Run) -> Table:
    s = metrics.summarise(run.outcomes)
    t = Table(title=f"tutelage bench {label}", show_header=True)
    for col in ("queries", "accuracy", "strong calls", "cost $", "ratings", "routes", "roster"):
        t.add_column(col, overflow="fold")
    routes = {r: run.routes.count(r) for r in sorted(set(run.routes))}
    roster = "; ".join(f"{m} " + ", ".join(f"{d}:{r}" for d, r in list(roles.items())[:6])
                       for m, roles in run.roles.items())  # fmt: skip
    t.add_row(f"{done}/{total}", f"{s.accuracy:.3f}", f"{s.strong_call_share:.1%}",
              f"{s.cost_usd:.4f}", str(len(run.ratings)),
              ", ".join(f"{k}:{v}" for k, v in routes.items()), roster)  # fmt: skip
    return t


def check_recorded(base: TutelageConfig, items: list[Item], dataset: str) -> None:
    """The supervisor must be one of the dataset's recorded models, or nothing can be scored."""
    recorded = sorted(items[0].answers) if items else []
    sup = base.member(base.supervisor).model.removeprefix("replay/")
    if sup not in recorded:
        hint = " (use --config examples/llmrouter.toml)" if dataset == "llmrouter" else ""
        raise DatasetError(f"the supervisor '{base.supervisor}' ({sup}) has no recordings in "
                           f"{dataset}{hint}; its recorded models: {', '.join(recorded)}")  # fmt: skip


async def run_bench(base: TutelageConfig, opts: BenchOptions, console: Console) -> dict[str, Any]:
    protocols = ["online", "split"] if opts.protocol == "both" else [opts.protocol]
    # LLMRouter's split protocol orders the stream train rows first: a stream of its own.
    # RouteLLM's datasets serve both protocols from one stream (split scores its second half),
    # and one run serves both where no query carries gold; with reference judging the split
    # run differs (its scored rows are served without it), so it is a run of its own.
    streams = {p: stream(opts, p) for p in protocols}
    check_recorded(base, streams[protocols[0]], opts.dataset)
    ordered = {p: streams[p] if opts.dataset == "llmrouter" else streams[protocols[0]]
               for p in protocols}  # fmt: skip
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    every = [it for p in protocols for it in ordered[p]]
    vectors = stream_embeddings(every, opts.out_dir, base.embedder.model)
    embedder = CachedEmbedder(make_embedder(base.embedder.model), [it.prompt for it in every],
                              vectors)  # fmt: skip
    headline_weight = base.routing.cost_weight if opts.cost_weight is None else opts.cost_weight
    weights = sorted(set(opts.sweep) | {headline_weight})
    runs: dict[str, dict[float, Run]] = {}
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        for p in protocols:
            same = next((q for q in runs if ordered[q] is ordered[p]
                         and gold_at_serve(ordered[q], opts.judge, q)
                         == gold_at_serve(ordered[p], opts.judge, p)), None)  # fmt: skip
            if same is not None:
                runs[p] = runs[same]
                continue
            runs[p] = {}
            for w in weights:
                runs[p][w] = await run_once(base, opts, ordered[p], embedder, w, live,
                                            f"{p} cost_weight={w}", p)  # fmt: skip
    reports = []
    for p in protocols:
        if opts.dataset == "llmrouter":
            reports.append(llmrouter_report(base, opts, ordered[p], runs[p], headline_weight, p,
                                            console, embedder))  # fmt: skip
        else:
            reports.append(routellm_report(base, opts, ordered[p], runs[p], headline_weight, p,
                                           console))  # fmt: skip
    if len(reports) > 1:
        reports[0]["also"] = reports[1:]
    return reports[0]
