"""The one place litellm is imported, after switching it to its bundled cost map.

Without LITELLM_LOCAL_MODEL_COST_MAP every import waits on the network; workflow modules must
never import this (litellm takes seconds to import and is not deterministic).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from litellm import CustomLLM  # noqa: E402
from litellm.types.utils import ModelResponse  # noqa: E402

litellm.telemetry = False
litellm.suppress_debug_info = True
# Temporal owns every retry: litellm must not retry inside an activity.
litellm.num_retries = 0

__all__ = ["CustomLLM", "ModelResponse", "litellm"]
