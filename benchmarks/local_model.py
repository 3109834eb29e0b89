"""Local GGUF speed: tokens/s and time to first token through the query path's ANSWER
activity (a real Temporal server, the local-model worker in its own process as `tutelage up`
runs it) against llama-cpp-python called directly, in the same run, same model, same settings.
Prints figures and the llama.cpp build's CPU features; asserts nothing.

    python benchmarks/local_model.py [--runs 5] [--max-tokens 64] [--threads N]

benchmarks/llama_builds.sh runs it once per build of llama-cpp-python (the flags compared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).parent))

from _baseline_workflows import AnswerOnceWorkflow  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from tutelage.config import parse_config  # noqa: E402
from tutelage.models.local import LocalModelConfig  # noqa: E402
from tutelage.options import local_task_queue  # noqa: E402
from tutelage.providers.local import LocalProvider, completion_prompt  # noqa: E402
from tutelage.services import Services  # noqa: E402
from tutelage.workers.worker import serving  # noqa: E402

QUESTIONS = ["Write a short story about a lighthouse keeper.", "Describe the water cycle.",
             "Explain how a bicycle works.", "Tell me about the history of Rome.",
             "Describe a walk in a forest in autumn."]  # fmt: skip


def direct(conf: LocalModelConfig, path: Path, runs: int) -> tuple[list[float], list[float]]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=conf.n_ctx, n_threads=conf.threads(), verbose=False)
    ttft, tps = [], []
    for i in range(runs + 1):
        prompt = completion_prompt(conf.few_shot, [{"role": "user", "content": QUESTIONS[i % 5]}])
        started = time.perf_counter()
        first = None
        n = 0
        for chunk in llm.create_completion(prompt, max_tokens=conf.max_tokens, stream=True,
                                           temperature=0.0, stop=conf.stop):  # fmt: skip
            if chunk["choices"][0].get("text") and first is None:
                first = time.perf_counter()
            n += 1
        total = time.perf_counter() - started
        if i:  # the first run warms the caches
            ttft.append(((first or started) - started) * 1000)
            tps.append(n / total)
    llm.close()
    return ttft, tps


async def through_activity(conf: LocalModelConfig, data: Path, runs: int) -> tuple[list[float], list[float], list[float]]:  # fmt: skip
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, ui=False,
    )  # fmt: skip
    queue = f"bench-local-{uuid.uuid4().hex[:6]}"
    cfg = parse_config({"supervisor": "gemma", "data_dir": str(data),
                        "temporal": {"task_queue": queue},
                        "local_models": [conf.model_dump(mode="json")],
                        "members": [{"id": "gemma", "model": f"local/{conf.name}",
                                     "role": "teacher"}]}, data / "t.toml")  # fmt: skip
    services = Services.open(cfg)
    ttft, tps, overhead = [], [], []
    inside: list[float] = []
    try:
        async with (
            serving(env.client, cfg, services),
            Worker(env.client, task_queue=f"{queue}-wf", workflows=[AnswerOnceWorkflow]),
        ):
            for i in range(runs + 1):
                started = time.perf_counter()
                out = await env.client.execute_workflow(
                    AnswerOnceWorkflow.run,
                    [local_task_queue(queue), "gemma", f"local/{conf.name}", QUESTIONS[i % 5]],
                    id=f"local-{uuid.uuid4().hex[:8]}", task_queue=f"{queue}-wf",
                )  # fmt: skip
                total = time.perf_counter() - started
                if i:
                    ttft.append(float(out["ttft_ms"]))
                    tps.append(int(out["tokens_out"]) / total)
                    overhead.append(total * 1000 - float(out["latency_ms"]))
                    inside.append(int(out["tokens_out"]) / (float(out["latency_ms"]) / 1000))
    finally:
        services.close()
        await env.shutdown()
    print(f"  (inside the activity, litellm call only: {statistics.median(inside):.1f} tokens/s)")
    return ttft, tps, overhead


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="llama.cpp threads, the same in both paths (default 0: the config's default, "
        "every core but one)",
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp())
    # No stop sequences: every run generates max_tokens, so tokens/s compares like with like.
    conf = LocalModelConfig(name="gemma", n_ctx=1024, n_threads=args.threads,
                            max_tokens=args.max_tokens, stop=[])  # fmt: skip
    path = LocalProvider([conf], data).gguf_path(conf)
    d_ttft, d_tps = direct(conf, path, args.runs)
    a_ttft, a_tps, overhead = asyncio.run(through_activity(conf, data, args.runs))
    med = statistics.median
    import llama_cpp

    features = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    print(f"== llama-cpp-python {llama_cpp.__version__}: {features}")
    print(f"== local model {conf.bundled} ({path.name}), {conf.threads()} threads, "
          f"{args.max_tokens} tokens, median of {args.runs} runs")  # fmt: skip
    print(f"  direct llama-cpp-python : {med(d_tps):6.1f} tokens/s   TTFT {med(d_ttft):6.1f} ms")
    print(f"  through the local worker: {med(a_tps):6.1f} tokens/s   TTFT {med(a_ttft):6.1f} ms "
          f"(+ {med(overhead):.0f} ms Temporal dispatch and return)")  # fmt: skip
    print(f"  activity / direct       : {med(a_tps) / med(d_tps):6.1%} of the direct speed "
          "(tokens/s end to end at the client; target >= 90%)")  # fmt: skip


if __name__ == "__main__":
    main()
