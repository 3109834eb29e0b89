"""Member prices: the configured price per token, else litellm's bundled cost map."""

from __future__ import annotations

from ..config import MemberConfig
from ..models.lifecycle import MemberSpec
from ..policy.cost import Price
from ._litellm import litellm


class UnknownPriceError(ValueError):
    pass


def member_price(member: MemberConfig | MemberSpec) -> Price:
    """USD per input and output token. A model missing from the cost map and unpriced costs 0."""
    if member.input_price is not None or member.output_price is not None:
        return Price(member.input_price or 0.0, member.output_price or 0.0)
    name = member.cost_model or member.model
    info = litellm.model_cost.get(name) or litellm.model_cost.get(name.split("/", 1)[-1])
    if not info:
        return Price(0.0, 0.0)
    return Price(
        float(info.get("input_cost_per_token") or 0.0),
        float(info.get("output_cost_per_token") or 0.0),
    )
