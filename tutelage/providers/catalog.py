"""How to call a member and what its tokens cost, without the school's stores.

The school's worker knows every member from its config and its roster. A process that only
calls models (the local-model worker, on this machine or another) has the config alone: a
member spawned by evolution is called as the candidate it was spawned from, whose model,
parameters and prices it copied.
"""

from __future__ import annotations

from typing import Protocol

from ..config import TutelageConfig
from ..models.lifecycle import MemberSpec
from ..policy.cost import Price
from ..policy.evolution import spawn_template
from .pricing import member_price


class MemberCatalog(Protocol):
    def spec(self, member_id: str) -> MemberSpec | None: ...

    def price(self, member_id: str) -> Price: ...


class ConfigCatalog:
    """Members and candidates as the config describes them."""

    def __init__(self, config: TutelageConfig) -> None:
        self.members = {s.id: s for s in config.member_specs()}
        self.candidates = {s.id: s for s in config.candidate_specs()}

    def spec(self, member_id: str) -> MemberSpec | None:
        if member_id in self.members:
            return self.members[member_id]
        template = spawn_template(member_id, list(self.candidates))
        if template is None:
            return None
        return self.candidates[template].model_copy(update={"id": member_id,
                                                            "template": template})  # fmt: skip

    def price(self, member_id: str) -> Price:
        spec = self.spec(member_id)
        return member_price(spec) if spec is not None else Price(0.0, 0.0)
