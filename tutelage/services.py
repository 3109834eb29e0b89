"""What a worker process owns: the config, the embedder, the stores and the prices.

DuckDB allows one read-write process and LanceDB's concurrent writers are unsafe, so exactly
one process (the store owner) opens a data directory, under an exclusive lock
(`store/owner.py`); everything else reads through Temporal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from .config import TutelageConfig
from .models import SchoolSnapshot
from .models.lifecycle import MemberSpec
from .policy.cost import Price
from .providers.embedders import Embedder, make_embedder
from .providers.pricing import member_price
from .providers.registry import close_providers, register_providers
from .store.batching import Coalescer
from .store.exemplars import ExemplarBank
from .store.ledger import Ledger
from .store.memory import Memory
from .store.owner import StoreLock
from .store.roster import RosterStore


@dataclass
class Services:
    config: TutelageConfig
    embedder: Embedder
    memory: Memory
    ledger: Ledger
    prices: dict[str, Price]
    school: SchoolSnapshot
    roster: RosterStore
    exemplars: ExemplarBank
    clusters: dict[str, list[float]] = field(default_factory=dict)
    # Users' verdicts by query id and member (the ledger's, kept current by the feedback
    # activity in this process): recall puts them in place of the judge's scores.
    user_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    _spawned: dict[str, MemberSpec] = field(default_factory=dict)
    _embed_lock: threading.Lock = field(default_factory=threading.Lock)
    _embed_batches: Coalescer[str, np.ndarray] | None = None
    _owner: StoreLock | None = None

    @classmethod
    def open(cls, config: TutelageConfig, embedder: Embedder | None = None) -> Services:
        register_providers(config.replay.data_dir, config.replay.latency_ms,
                           config.local_models, config.data_dir)  # fmt: skip
        emb = embedder or make_embedder(
            config.embedder.model, config.embedder.api_base, config.embedder.api_key_env,
            config.embedder.threads,
        )
        data = config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        owner = StoreLock(data)
        owner.acquire()  # StoreOwnedError while another live process owns this directory
        prices = {m.id: member_price(m) for m in config.members}
        try:
            ledger = Ledger(data / "ledger.duckdb")
        except Exception:
            owner.release()
            raise
        services = cls(
            config=config,
            embedder=emb,
            memory=Memory(data / "memory.lance", emb.dim),
            ledger=ledger,
            prices=prices,
            school=config.school(prices),
            roster=RosterStore(ledger),
            exemplars=ExemplarBank(data / "exemplars.lance", emb.dim),
            _owner=owner,
        )
        services.refresh()
        services.user_scores = ledger.user_scores()
        return services

    def price(self, member_id: str) -> Price:
        return self.prices[member_id]

    def spec(self, member_id: str) -> MemberSpec | None:
        """How to call a member: configured, or spawned by evolution (from the roster)."""
        for m in self.config.members:
            if m.id == member_id:
                return MemberSpec.model_validate(m.model_dump())
        return self._spawned.get(member_id)

    def refresh(self) -> None:
        """Rebuild the snapshot queries run under from the roster, clusters and tuned values.

        The worker is the only writer of these tables, so after each of its own writes this
        keeps every later query consistent with them.
        """
        states = self.roster.states()
        configured = {m.id for m in self.config.members}
        self._spawned = {st.spec.id: st.spec for st in states if st.spec.id not in configured}
        for st in states:
            if st.spec.id not in self.prices:
                self.prices[st.spec.id] = member_price(st.spec)
        self.clusters = self.roster.clusters()
        self.school = self.config.school(self.prices, states, self.roster.routing_overrides(),
                                         self.roster.judges(), self.roster.peers())  # fmt: skip

    def embed(self, text: str) -> np.ndarray:
        return self.embed_many([text])[0]

    def embed_many(self, texts: list[str]) -> list[np.ndarray]:
        with self._embed_lock:
            return list(self.embedder.embed(texts))

    async def embed_async(self, text: str) -> np.ndarray:
        """Embed off the event loop; texts submitted together are embedded in one pass."""
        if self._embed_batches is None:
            self._embed_batches = Coalescer(self.embed_many, max_batch=32)
        return await self._embed_batches.submit(text)

    def close(self) -> None:
        self.ledger.close()
        close_providers()
        if self._owner is not None:
            self._owner.release()
