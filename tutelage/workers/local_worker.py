"""The local-model worker: GGUF models answer on their own task queue, in their own process.

llama.cpp is native code; a crash in it (a segfault on some CPUs) ends the process it runs in.
Here that process holds nothing but the local models: no store, no workflow. The school's
worker starts it and restarts it when it dies (`LocalWorkerProcess`); the call it was serving
times out on its heartbeat and Temporal retries it on the restarted process. On another machine
it runs alone: `tutelage worker --role local`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from ..activities.calls import ModelCalls
from ..config import TutelageConfig, parse_config
from ..options import local_task_queue
from ..providers.catalog import ConfigCatalog
from ..providers.registry import close_providers, local_provider, register_providers
from .heartbeats import INTERCEPTORS
from .processes import exit_with_parent
from .supervisor import Supervised, child_env

log = logging.getLogger(__name__)

# The child reads what it serves from this variable: the parent's config as JSON (it may differ
# from any file: the benchmark gives each run its own task queue), the address, the parent.
SPEC_ENV = "TUTELAGE_LOCAL_WORKER"
PID_FILE = "local-worker.pid"
LOG_FILE = "local-worker.log"


def build_local_worker(client: Client, config: TutelageConfig) -> Worker:
    calls = ModelCalls(ConfigCatalog(config))
    return Worker(
        client,
        task_queue=local_task_queue(config.temporal.task_queue),
        activities=[calls.answer],
        # One generation per model at a time: llama.cpp already uses the cores it is given.
        max_concurrent_activities=max(1, len(config.local_models)),
        interceptors=INTERCEPTORS,
    )


async def run_local_worker(config: TutelageConfig, client: Client, stop: asyncio.Event) -> None:
    register_providers(config.replay.data_dir, config.replay.latency_ms,
                       config.local_models, config.data_dir)  # fmt: skip
    try:
        # Load the models before taking work: the first call does not pay for the load, and a
        # model that cannot load is reported now (its calls then fail fast, recorded).
        provider = local_provider()
        failed = await asyncio.to_thread(provider.load_all) if provider is not None else {}
        for name, error in failed.items():
            log.error("local model '%s' is unavailable: %s", name, error)
        async with build_local_worker(client, config):
            await stop.wait()
    finally:
        close_providers()


def client_address(client: Client) -> str:
    return client.service_client.config.target_host


class LocalWorkerProcess(Supervised):
    """The local-model worker as a supervised child of this process."""

    def __init__(self, config: TutelageConfig, address: str) -> None:
        spec = {"config": config.model_dump(mode="json"), "address": address,
                "parent_pid": os.getpid()}  # fmt: skip
        data = config.data_dir
        super().__init__(
            name="local-model worker",
            argv=[sys.executable, "-X", "faulthandler", "-m", "tutelage.workers.local_worker"],
            log_file=data / LOG_FILE,
            pid_file=data / PID_FILE,
            env=child_env({SPEC_ENV: json.dumps(spec)}),
        )


async def _child_main(spec: dict[str, object]) -> None:
    from .worker import connect

    # The config arrives already resolved (absolute paths): any base path will do.
    config = parse_config(spec["config"], Path("tutelage.toml"))  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await connect(str(spec["address"]), config.temporal.namespace)
    print(f"local-model worker (pid {os.getpid()}) serving "
          f"{local_task_queue(config.temporal.task_queue)}", flush=True)  # fmt: skip
    await run_local_worker(config, client, stop)


def main() -> None:
    spec = json.loads(os.environ[SPEC_ENV])
    exit_with_parent(int(spec["parent_pid"]))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    code = 0
    try:
        asyncio.run(_child_main(spec))
    except Exception:  # noqa: BLE001 - the supervisor logs the exit; the traceback is in the log
        log.exception("local-model worker failed")
        code = 1
    # No interpreter finalisation: llama.cpp's and Temporal's native threads can abort it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
