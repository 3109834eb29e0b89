"""Redraws docs/dashboard.png: a school warmed with GSM8K questions, some of them rated by users.

`.venv/bin/python scripts/dashboard_screenshot.py [--warm 350] [--asked 80] [--out PNG]`
(needs the test extra's Playwright and Debian's chromium, as `make test` installs). It starts a
stack of its own (`tutelage up` on a config in a temporary directory, on the default ports),
warms the school with `tutelage warm` (tenant `default`), asks further questions through the API
with the `openai` SDK as tenant `acme`, and rates about half of those answers as a user who
knows the gold answer would (`POST /v1/feedback`: up when the answer's final number is the gold
one), then draws `tutelage report --html` in chromium and stops the stack.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
TUTELAGE = [sys.executable, "-m", "tutelage"]
DATA = (ROOT / "../shared/data/routellm").resolve()


def _config(tmp: Path) -> Path:
    text = (ROOT / "tutelage.toml").read_text()
    text = text.replace('data_dir = ".tutelage"', f'data_dir = "{tmp / "data"}"')
    text = text.replace('"../shared/data/routellm"', f'"{DATA}"')
    text = text.replace('tenants = ["default"]', 'tenants = ["default", "acme"]')
    path = tmp / "tutelage.toml"
    path.write_text(text)
    return path


def _run(*args: str, config: Path) -> str:
    done = subprocess.run([*TUTELAGE, *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=1800, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"tutelage {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_up(log: Path, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(240):
        if "Press Ctrl-C" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(1)
    raise SystemExit(f"the stack did not start:\n{log.read_text(errors='replace')}")


def _ask_and_rate(key: str, asked: int, seed: int) -> tuple[int, int]:
    from tutelage.bench.datasets import sample_stream
    from tutelage.policy.answers import reference_score

    items = sample_stream("gsm8k", DATA, seed)
    client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=key, max_retries=0)
    coin = random.Random(seed)
    rated = up = 0
    # Questions the school has not been warmed with, then some it has (familiar ones).
    for item in items[-asked // 2:] + items[: asked - asked // 2]:
        reply = client.chat.completions.create(
            model="tutelage", messages=[{"role": "user", "content": item.prompt}])
        if coin.random() >= 0.5:
            continue
        score = reference_score(reply.choices[0].message.content or "", item.reference)
        answer = httpx.post("http://127.0.0.1:8000/v1/feedback", timeout=60,
                            headers={"authorization": f"Bearer {key}"},
                            json={"completion_id": reply.id, "score": score})  # fmt: skip
        answer.raise_for_status()
        rated += 1
        up += score >= 0.8
    return rated, up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=350)
    parser.add_argument("--asked", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium: apt-get install chromium")
    tmp = Path(tempfile.mkdtemp(prefix="tutelage-shot-"))
    config = _config(tmp)
    log = tmp / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([*TUTELAGE, "up", "--config", str(config)], stdout=out,
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_up(log, up)
        _run("warm", "--dataset", "gsm8k", "--limit", str(args.warm), config=config)
        key = _run("keys", "create", "--tenant", "acme", config=config).strip().splitlines()[-1]
        rated, positive = _ask_and_rate(key, args.asked, args.seed)
        print(f"asked {args.asked} as acme, rated {rated} ({positive} up)")
        page = tmp / "report.html"
        _run("report", "--html", str(page), "--window", "all", config=config)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(page.as_uri())
            tab.screenshot(path=str(args.out), full_page=True)
            browser.close()
        print(f"wrote {args.out}")
    finally:
        subprocess.run([*TUTELAGE, "down", "--config", str(config)], capture_output=True,
                       timeout=120, check=False)  # fmt: skip
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
        if not os.environ.get("KEEP_SHOT"):  # KEEP_SHOT=1 keeps the stack's data and log
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
