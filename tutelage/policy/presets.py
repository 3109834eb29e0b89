"""The gateway's model names: school presets, each a value of the one cost knob.

`tutelage` is the school as configured; `tutelage-quality` and `tutelage-cheap` lean to the
supervisor's quality or to the cheapest members; `tutelage@W` names the cost weight itself.
"""

from __future__ import annotations

import re

from ..models import SchoolSnapshot

DEFAULT = "tutelage"
# utility = estimated quality - cost_weight * relative cost: 0 ignores cost, 1 weighs a
# member's whole relative cost against one point of quality.
PRESETS: dict[str, float | None] = {DEFAULT: None, "tutelage-quality": 0.0,
                                    "tutelage-balanced": 0.3, "tutelage-cheap": 1.0}  # fmt: skip
_EXPLICIT = re.compile(r"^tutelage@(\d+(?:\.\d+)?)$")
MAX_WEIGHT = 10.0


class UnknownPresetError(ValueError):
    """The model name is no preset of this school."""


def preset_cost_weight(model: str) -> float | None:
    """The cost weight a model name asks for (None: the school's own). Raises
    UnknownPresetError with the names that exist."""
    if model in PRESETS:
        return PRESETS[model]
    match = _EXPLICIT.match(model)
    if match and float(match.group(1)) <= MAX_WEIGHT:
        return float(match.group(1))
    raise UnknownPresetError(
        f"The model '{model}' does not exist: this school answers as "
        f"{', '.join(PRESETS)} or tutelage@W (a cost weight W from 0 to {MAX_WEIGHT:g})"
    )


def with_cost_weight(school: SchoolSnapshot, cost_weight: float) -> SchoolSnapshot:
    """The school as one query sees it under a preset."""
    routing = school.routing.model_copy(update={"cost_weight": cost_weight})
    return school.model_copy(update={"routing": routing})
