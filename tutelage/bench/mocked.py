"""A school of mocked members (litellm's mock_response with a delay) for scale-out tests and
benchmarks. `novel` (the default): every query is novel (every member answers, nothing comes
from memory or the cache), so a query's route and winner never depend on which queries ran
before it. `familiar`: a teacher and a TA that agree, with low thresholds, so after the first
query of a kind the TA answers alone (one model call), as in a school that has learned."""

from __future__ import annotations

_SCHOOL = """
supervisor = "sup"
data_dir = "{data_dir}"
[temporal]
task_queue = "{queue}"
[embedder]
low_threshold = {low}
high_threshold = {high}
cache_threshold = 0.99999
[routing]
shadow_rate = 0.0
ta_audit_rate = 0.0
teacher_audit_rate = 0.0
[judge]
mode = "agreement"
[schedules]
promotion_every_queries = {promotion_every}
evolution_every_queries = 0
distillation_every_queries = 0
"""

_MEMBER = """
[[members]]
id = "{id}"
model = "openai/{id}-model"
role = "{role}"
timeout_s = 5
input_price = {price_in}
output_price = {price_out}
params = {{ mock_response = "{answer}", mock_delay = {delay} }}
"""

# (id, role, answer, USD per input token, per output token): a supervisor, a cheap student that
# agrees with it, and a cheap one that does not.
MEMBERS = [("sup", "teacher", "42", 1e-5, 3e-5), ("stu", "student", "42", 1e-7, 1e-7),
           ("bad", "student", "41", 1e-7, 1e-7)]  # fmt: skip
FAMILIAR_MEMBERS = [("sup", "teacher", "42", 1e-5, 3e-5), ("stu", "ta", "42", 1e-7, 1e-7)]
# route -> (low, high threshold, members)
_SCHOOLS = {"novel": (0.9999, 0.99995, MEMBERS), "familiar": (0.5, 0.6, FAMILIAR_MEMBERS)}


def mocked_school_toml(queue: str, delay_s: float, promotion_every: int = 0,
                       data_dir: str = "data", extra: str = "", route: str = "novel") -> str:  # fmt: skip
    """A tutelage.toml for the mocked school on task queue `queue`; `extra` (TOML tables such
    as `[gateway]`) goes at the end."""
    low, high, roster = _SCHOOLS[route]
    members = "".join(
        _MEMBER.format(id=i, role=r, answer=a, price_in=f"{pi:.10f}", price_out=f"{po:.10f}",
                       delay=delay_s)
        for i, r, a, pi, po in roster
    )  # fmt: skip
    return _SCHOOL.format(queue=queue, promotion_every=promotion_every, data_dir=data_dir,
                          low=low, high=high) + members + extra  # fmt: skip
