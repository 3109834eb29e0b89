"""Cost arithmetic: relative costs for routing and the supervisor-only counterfactual."""

from __future__ import annotations

from dataclasses import dataclass

# A typical call, used to compare members whose prices differ between input and output.
NOMINAL_TOKENS_IN = 400
NOMINAL_TOKENS_OUT = 250


@dataclass(frozen=True)
class Price:
    """USD per token."""

    input: float
    output: float

    def of(self, tokens_in: int, tokens_out: int) -> float:
        return self.input * tokens_in + self.output * tokens_out


def relative_costs(prices: dict[str, Price], supervisor: str) -> dict[str, float]:
    """Each member's nominal call cost divided by the supervisor's (the supervisor is 1.0).

    A free supervisor (all prices zero) makes every member cost 1.0: cost cannot separate them.
    """
    base = prices[supervisor].of(NOMINAL_TOKENS_IN, NOMINAL_TOKENS_OUT)
    if base <= 0:
        return {m: 1.0 for m in prices}
    return {m: p.of(NOMINAL_TOKENS_IN, NOMINAL_TOKENS_OUT) / base for m, p in prices.items()}


def supervisor_only_cost(
    supervisor_price: Price,
    prompt_tokens: int,
    completion_tokens: int,
) -> float:
    """What the supervisor alone would have been paid for this query."""
    return supervisor_price.of(prompt_tokens, completion_tokens)
