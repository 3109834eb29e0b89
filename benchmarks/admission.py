"""Admission's cost: a limited key's requests against an unlimited key's, through real gateways.

A limited key (requests and tokens per minute and a day budget, all far from reached) is
admitted on every request in the usage counters and settles each query's cost; an unlimited
key skips both. Same school (`familiar`: a TA answers alone, mock members at 0 ms), same load
generator, one run: at 1, 32 and 256 concurrent clients, with one gateway (counters in its
process) and with two (counters in a real Redis, `redis-server` from Debian; requests spread
over both). Prints requests/s, p50/p99 latency and errors per key, the added latency (limited
minus unlimited) and the target's verdict: at 256 concurrent a limited key's throughput at
least 90% of an unlimited key's, with no error. Asserts nothing.

    python benchmarks/admission.py [--requests 512]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
from served import wait_http  # noqa: E402  (benchmarks/served.py)
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tutelage.bench.mocked import mocked_school_toml  # noqa: E402
from tutelage.workers.devserver import free_port  # noqa: E402
from tutelage.workers.processes import die_with_parent  # noqa: E402
from tutelage.workflows import search_attributes as sa  # noqa: E402

CONCURRENCY = (1, 32, 256)
LIMITS = ["--rpm", "10000000", "--tpm", "1000000000", "--budget-day", "1000000"]
_asked = itertools.count()


@dataclass
class Figures:
    gateways: int
    key: str
    concurrency: int
    latencies_s: list[float]
    wall_s: float
    errors: int

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_s)
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0

    def line(self) -> str:
        return (f"  {self.gateways}    {self.concurrency:>4}  {self.key:<10} {self.rate:>7.1f}"
                f" {statistics.median(self.latencies_s) * 1000:>9.1f} {self.pct(0.99):>9.1f}"
                f" {self.errors:>6}")  # fmt: skip


class Stack:
    """One school: a worker, `gateways` gateways, and for two a Redis for their counters."""

    def __init__(self, root: Path, address: str, gateways: int) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        counters = "memory"
        if gateways > 1:
            binary = shutil.which("redis-server")
            if binary is None:
                raise SystemExit("redis-server is missing (apt-get install redis-server)")
            port = free_port()
            self._spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                         "--appendonly", "no", "--dir", str(root)], "redis")  # fmt: skip
            counters = f"redis://127.0.0.1:{port}/0"
            time.sleep(0.5)
        self.config = root / "tutelage.toml"
        self.config.write_text(mocked_school_toml(
            f"adm-{uuid.uuid4().hex[:6]}", 0.0, route="familiar",
            extra=f'\n[gateway]\nauth = "keys"\ncounters = "{counters}"\n'))  # fmt: skip
        self.env = {**os.environ, "TEMPORAL_ADDRESS": address}
        worker = self._spawn([sys.executable, "-m", "tutelage", "worker", "--config",
                              str(self.config)], "worker")  # fmt: skip
        self.urls = []
        for g in range(gateways):
            port = free_port()
            proc = self._spawn([sys.executable, "-m", "tutelage", "serve", "--config",
                                str(self.config), "--port", str(port)], f"gateway{g}")  # fmt: skip
            wait_http(f"http://127.0.0.1:{port}/health/readiness", proc, root / f"gateway{g}.log")
            self.urls.append(f"http://127.0.0.1:{port}/v1/chat/completions")
        del worker
        self.keys = {"unlimited": self._key([]), "limited": self._key(LIMITS)}

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(die_with_parent(args), env=getattr(self, "env", None),
                                stdout=(self.root / f"{name}.log").open("wb"),
                                stderr=subprocess.STDOUT)  # fmt: skip
        self.procs.append(proc)
        return proc

    def _key(self, limits: list[str]) -> str:
        made = subprocess.run([sys.executable, "-m", "tutelage", "keys", "create", "--tenant",
                               "default", "--config", str(self.config), *limits], env=self.env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        if made.returncode != 0:
            raise SystemExit(f"could not create a key: {made.stderr}")
        return made.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _load(http: httpx.AsyncClient, urls: list[str], keys: dict[str, str], concurrency: int,
                total: int) -> dict[str, tuple[list[float], float, int]]:  # fmt: skip
    """Both keys at once, in one window, so the machine's state is the same for both: half the
    clients send with each key (at 1 concurrent, one client alternates), `total` requests in
    all. Per key: latencies, the window's length, errors (the first one is printed)."""
    names = list(keys)
    latencies: dict[str, list[float]] = {k: [] for k in names}
    errors = dict.fromkeys(names, 0)
    todo = iter(range(total))

    async def client(c: int) -> None:
        for i in todo:
            key = names[(i if concurrency == 1 else c) % len(names)]
            n = next(_asked)
            body = {"model": "tutelage", "messages": [{"role": "user", "content":
                    f"question {n}: what is {n} plus {n * 7 % 97}?"}]}  # fmt: skip
            started = time.perf_counter()
            try:
                r = await http.post(urls[i % len(urls)], json=body,
                                    headers={"authorization": f"Bearer {keys[key]}"})  # fmt: skip
                ok, why = r.status_code == 200, f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                ok, why = False, repr(exc)
            if ok:
                latencies[key].append(time.perf_counter() - started)
            else:
                if not sum(errors.values()):
                    print(f"    first error ({key}): {why}", flush=True)
                errors[key] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(concurrency)))
    wall = time.perf_counter() - started
    return {k: (latencies[k], wall, errors[k]) for k in names}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=512,
                        help="requests per case at 256 concurrent (a quarter at 32, 32 at 1)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="admission-bench-"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, search_attributes=sa.ALL, ui=False,
    )  # fmt: skip
    address = env.client.service_client.config.target_host
    print(f"== admission: a limited key against an unlimited one, {os.cpu_count()} cores; "
          "familiar school, mock members at 0 ms")  # fmt: skip
    print("  gws  conc  key          req/s    p50 ms    p99 ms  errors")
    figures: list[Figures] = []
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    try:
        async with httpx.AsyncClient(timeout=300, limits=limits) as http:
            for gateways in (1, 2):
                stack = Stack(root / f"gw{gateways}", address, gateways)
                try:
                    await _load(http, stack.urls, stack.keys, 8, 16)  # warm
                    for c in CONCURRENCY:
                        total = {1: 64, 32: max(128, args.requests // 2)}.get(c, 2 * args.requests)
                        for key, (lat, wall, errors) in (await _load(
                                http, stack.urls, stack.keys, c, total)).items():  # fmt: skip
                            figures.append(Figures(gateways, key, c, lat, wall, errors))
                            print(figures[-1].line(), flush=True)
                finally:
                    stack.stop()
    finally:
        await env.shutdown()
    print("\n  added latency (limited - unlimited), throughput ratio:")
    for gateways in (1, 2):
        for c in CONCURRENCY:
            u, lim = (next(f for f in figures if (f.gateways, f.concurrency, f.key) ==
                           (gateways, c, k)) for k in ("unlimited", "limited"))  # fmt: skip
            added50 = (statistics.median(lim.latencies_s) - statistics.median(u.latencies_s)) * 1000
            print(f"  {gateways} gateway(s), {c:>3} concurrent: p50 {added50:+.1f} ms, p99 "
                  f"{lim.pct(0.99) - u.pct(0.99):+.1f} ms, throughput {lim.rate / u.rate:.0%}")
            if c == 256:
                met = lim.rate >= 0.9 * u.rate and lim.errors == 0 and u.errors == 0
                print(f"    target (>= 90%, no error): {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    asyncio.run(main())
