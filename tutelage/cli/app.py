"""`tutelage`: the command line. Each command's body lives in its own module."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..config import ConfigError
from .common import UserError

app = typer.Typer(
    name="tutelage",
    help="Serve LLM queries through a self-evolving school of models, on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $TUTELAGE_CONFIG, ./tutelage.toml)."
    ),
]


@app.command()
def up(config: ConfigOption = None) -> None:
    """Start the local stack: the Temporal dev server (unless one is configured), a worker, the API."""
    from .up import run_up

    run_up(config)


@app.command()
def worker(
    config: ConfigOption = None,
    role: Annotated[
        str,
        typer.Option(
            help="school: all in one (the workflows, the stores and the model calls); store: "
            "the store owner alone (workflows and stores; one per data_dir); answer: a stateless "
            "model-call worker (run any number); local: the local GGUF models' queue. school "
            "and store also supervise a local-model worker unless --no-local-worker."
        ),
    ] = "school",
    local_worker: Annotated[
        bool,
        typer.Option(
            help="With --role school: start and watch the local-model worker process when "
            "local models are configured (off: run `--role local` elsewhere)."
        ),
    ] = True,
) -> None:
    """Run a worker alone, against the configured (possibly shared) Temporal cluster."""
    from .up import run_worker_only

    run_worker_only(config, role, local_worker)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (gateway.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (gateway.port).")] = None,
) -> None:
    """Serve the OpenAI-compatible API (/v1/chat/completions, /v1/models) for the school."""
    from .up import run_serve

    run_serve(config, host, port)


@app.command()
def down(
    config: ConfigOption = None,
    timeout: Annotated[
        float,
        typer.Option(help="Seconds to wait for it to stop (it stops itself within 7: "
                     "tutelage.cli.up.HARD_STOP_S); then it is killed (SIGKILL)."),
    ] = 8.0,
) -> None:
    """Stop the stack `tutelage up` started on this config's data directory (by its pid file)."""
    from .up import run_down

    run_down(config, timeout)


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="The query.")] = "",
    config: ConfigOption = None,
    domain: Annotated[str | None, typer.Option(help="Domain label of the query.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant the query belongs to.")] = "default",
    reference: Annotated[
        str | None, typer.Option(help="A reference answer: scored programmatically.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result model as JSON.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 300.0,
    sample: Annotated[
        bool, typer.Option("--sample", help="Ask a recorded GSM8K question (the replay default).")
    ] = False,
) -> None:
    """Ask the school one question and show who answered, why, and what it cost."""
    from .ask import run_ask

    if not text and not sample:
        raise UserError("give a question, or --sample for a recorded one")
    run_ask(text, config, domain, tenant, reference, as_json, timeout, sample)


@app.command("config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the config file and summarise it."""
    from .ask import show_config

    show_config(config)


@app.command()
def feedback(
    completion_id: Annotated[str, typer.Argument(
        help="The chat completion's id (chatcmpl-...) or its x-tutelage-query-id header.")],
    score: Annotated[float | None, typer.Option(help="The answer's score, 0 to 1.")] = None,
    rating: Annotated[str | None, typer.Option(help="up or down (instead of --score).")] = None,
    comment: Annotated[str | None, typer.Option(help="A comment (up to 2,000 characters).")] = None,
    correction: Annotated[str | None, typer.Option(
        help="A better answer: a gold exemplar for the tenant's distillation.")] = None,
    tenant: Annotated[str | None, typer.Option(
        help="The tenant whose completion it must be (default: the query's own).")] = None,
    config: ConfigOption = None,
) -> None:
    """Rate a served answer (as POST /v1/feedback): a user verdict on the member that answered."""
    from .feedback import run_feedback

    run_feedback(config, completion_id, score, rating, comment, correction, tenant)  # fmt: skip


keys_app = typer.Typer(help="The API's keys (`keys create|list|revoke`).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant the key's requests belong to.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    budget_day: Annotated[float | None, typer.Option(help="USD per day.")] = None,
    budget_month: Annotated[float | None, typer.Option(help="USD per month.")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="May also open the dashboard (every tenant's figures).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Create a key for a tenant; it is printed once (only its hash is kept)."""
    from .keys import create_key

    create_key(config, tenant, name, budget_day, budget_month, rpm, tpm, admin)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the keys and their usage as JSON.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """The keys: id, tenant, state and limits (never the secrets)."""
    from .keys import list_keys

    list_keys(config, tenant, as_json)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`tutelage keys list`).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: the gateways refuse it from then on."""
    from .keys import revoke_key

    revoke_key(config, key_id)


schedules_app = typer.Typer(help="The learning cycles' Temporal Schedules.", no_args_is_help=True)
evolve_app = typer.Typer(help="Run evolution.", no_args_is_help=True)
member_app = typer.Typer(help="Move one member along the ladder.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")
app.add_typer(evolve_app, name="evolve")
app.add_typer(member_app, name="member")
MemberId = Annotated[str, typer.Argument(help="The member's id.")]
DomainOption = Annotated[str, typer.Option(help="The domain ('*': every domain).")]


@schedules_app.command("sync")
def schedules_sync(config: ConfigOption = None) -> None:
    """Create or update the promotion, evolution and distillation schedules (idempotent)."""
    from .school import sync_command

    sync_command(config)


@evolve_app.command("now")
def evolve_now(config: ConfigOption = None) -> None:
    """Run one evolution cycle now and print what it did."""
    from .school import evolve_now as run

    run(config)


@app.command()
def members(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
) -> None:
    """The roster: roles per domain, win rates, costs, last transition."""
    from .school import members_command

    members_command(config, as_json)


def _member(action: str, member_id: str, domain: str, config: Path | None) -> None:
    from .school import member_command

    member_command(action, member_id, domain, config)


@member_app.command("promote")
def member_promote(member_id: MemberId, domain: DomainOption = "*",
                   config: ConfigOption = None) -> None:  # fmt: skip
    """student -> ta -> teacher in a domain."""
    _member("promote", member_id, domain, config)


@member_app.command("demote")
def member_demote(member_id: MemberId, domain: DomainOption = "*",
                  config: ConfigOption = None) -> None:  # fmt: skip
    """teacher -> ta -> student -> probation in a domain."""
    _member("demote", member_id, domain, config)


@member_app.command("retire")
def member_retire(member_id: MemberId, domain: DomainOption = "*",
                  config: ConfigOption = None) -> None:  # fmt: skip
    """Retire a member (from one domain, or '*' for all)."""
    _member("retire", member_id, domain, config)


@member_app.command("activate")
def member_activate(member_id: MemberId, domain: DomainOption = "*",
                    config: ConfigOption = None) -> None:  # fmt: skip
    """A member on probation, or retired, becomes a student."""
    _member("activate", member_id, domain, config)


def main() -> None:
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:  # click ends every command with one
        code = exc.code
    except ConfigError as exc:
        err.print(f"[red]config error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        code = 2
    except UserError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        code = 1
    except KeyboardInterrupt:
        code = 130
    _exit(code)


def _exit(code: int | str | None) -> None:
    """Exit without interpreter finalisation: once a command has started a Temporal client,
    the runtime's native (tokio) threads can crash Python's teardown with a segfault, turning
    a finished command into exit status 139. Every command has closed what it opened."""
    if isinstance(code, str):
        err.print(code, highlight=False, markup=False)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


@app.command()
def bench(
    dataset: Annotated[str, typer.Option(help="gsm8k, mmlu or llmrouter.")] = "gsm8k",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Recorded answers (RouteLLM's or LLMRouter's); default: the config's "
            "replay.data_dir."
        ),
    ] = None,  # fmt: skip
    subjects: Annotated[str | None, typer.Option(help="MMLU subjects, comma-separated.")] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N shuffled items.")] = None,
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 0,
    judge: Annotated[str, typer.Option(help="reference or agreement.")] = "agreement",
    protocol: Annotated[
        str, typer.Option(help="online, split, or both (one stream, two reports).")
    ] = "online",
    engine: Annotated[str, typer.Option(help="inline (one process) or temporal.")] = "inline",
    report: Annotated[Path | None, typer.Option(help="Where to write the JSON report.")] = None,
    out_dir: Annotated[Path, typer.Option(help="Plots, reports, run data.")] = Path("bench-out"),
    sweep: Annotated[str | None, typer.Option(help="cost_weight values, comma-separated.")] = None,
    evolution: Annotated[
        bool,
        typer.Option(
            help="Run promotion, evolution and distillation every N queries (off: static roster)."
        ),
    ] = True,  # fmt: skip
    task_labels: Annotated[
        bool, typer.Option(help="Give the school each item's task as its domain (llmrouter).")
    ] = False,  # fmt: skip
    feedback_rate: Annotated[
        float,
        typer.Option(
            help="After an item is served, its answer's recorded score arrives as a user "
            "rating with this probability (0 to 1), before the next item."
        ),
    ] = 0.0,  # fmt: skip
    feedback_noise: Annotated[
        float, typer.Option(help="The probability that a user rating is flipped (1 - score).")
    ] = 0.0,  # fmt: skip
    config: ConfigOption = None,
) -> None:
    """Replay recorded answers through the school and compare it with fixed routers."""
    from .bench import run_bench_command

    run_bench_command(config, dataset, data_dir, subjects, limit, seed, judge, protocol, engine,
                      report, out_dir, sweep, evolution, task_labels, feedback_rate,
                      feedback_noise)  # fmt: skip


@app.command()
def warm(
    dataset: Annotated[str, typer.Option(help="gsm8k, mmlu or llmrouter.")] = "gsm8k",
    limit: Annotated[int, typer.Option(help="How many recorded questions to send.")] = 300,
    seed: Annotated[int, typer.Option(help="Shuffle seed (the benchmark's stream order).")] = 0,
    concurrency: Annotated[int, typer.Option(help="Queries in flight at once.")] = 4,
    tenant: Annotated[str, typer.Option(help="Tenant the queries belong to.")] = "default",
    config: ConfigOption = None,
) -> None:
    """Send recorded questions through the running school, so that it learns from them.

    The benchmark learns in schools of its own; this is how `ask` and the API meet a school that
    has learned."""
    from .warm import run_warm

    run_warm(config, dataset, limit, seed, concurrency, tenant)


@app.command()
def report(
    html: Annotated[Path | None, typer.Option(help="Write the dashboard page to this file.")] = None,
    tenant: Annotated[str | None, typer.Option(help="One tenant (default: all).")] = None,
    window: Annotated[str, typer.Option(help="1h, 24h, 7d, 30d or all.")] = "all",
    bench_report: Annotated[
        Path | None, typer.Option(help="A bench JSON report (default: the newest in bench-out/).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """The school's dashboard (spend, savings, quality, routes, roster) as one HTML file."""
    from .report import run_report

    run_report(config, html, tenant, window, bench_report, as_json)
