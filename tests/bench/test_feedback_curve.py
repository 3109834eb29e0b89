"""The feedback curve from bench reports: rows in order of R, the oracle judge last and named
as the bound, older reports read as R = 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tutelage.bench.feedback_curve import _quality, main, point, table


def _report(rate: float, noise: float = 0.0, judge: str = "agreement", acc: float = 0.8,
            cost: float = 5.0) -> dict[str, Any]:  # fmt: skip
    return {"dataset": "gsm8k", "protocol": "online", "judge": judge,
            "oracle_bound": judge == "reference", "tutelage": {"accuracy": acc, "cost_usd": cost},
            "baselines": {"supervisor_only": {"accuracy": 0.85, "cost_usd": 10.0}},
            "apgr": 0.5 + rate, "feedback": {"rate": rate, "noise": noise, "ratings": int(rate * 100)},
            "cache_hits": {"count": 2}}  # fmt: skip


def test_rows_follow_r_and_the_oracle_is_the_bound(tmp_path: Path, capsys: Any) -> None:
    reports = [_report(0.1), _report(0.0), _report(0.1, 0.1), _report(0.0, judge="reference",
               acc=0.9), _report(0.02)]  # fmt: skip
    rows = table([point(r) for r in reports], "supervisor only").splitlines()
    assert rows[0].startswith("| judge | R | P | accuracy | cost vs supervisor only | APGR |")
    assert [r.split(" | ")[1:3] for r in rows[2:]] == [["0", "0"], ["0.02", "0"], ["0.1", "0"],
                                                        ["0.1", "0.1"], ["0", "0"]]  # fmt: skip
    assert rows[-1].startswith("| oracle judge (gold at serve time): upper bound | 0 | 0 | 0.900")
    assert "| 50% |" in rows[2] and rows[2].endswith("| 0 | 2 | 0 |")
    old = _report(0.0, judge="reference")
    del old["feedback"], old["oracle_bound"], old["cache_hits"]
    p = point(old)
    assert p.oracle and p.rate == 0 and p.cache_hits == 0
    # Drawn by APGR where the report has one (accuracy alone hides the cost), else accuracy.
    assert _quality(point(_report(0.1))) == 0.6
    assert _quality(point({**_report(0.1), "apgr": None})) == 0.8
    paths = []
    for i, r in enumerate(reports):
        paths.append(tmp_path / f"r{i}.json")
        paths[-1].write_text(json.dumps(r))
    main([*map(str, paths), "--plot", str(tmp_path / "curve.png")])
    out = capsys.readouterr().out
    assert "gsm8k (online)" in out and "upper bound" in out and (tmp_path / "curve.png").exists()


def test_the_nine_models_table_shows_the_last_fifth_and_promotions_to_teacher() -> None:
    report = {"dataset": "llmrouter", "protocol": "online", "judge": "agreement",
              "tutelage": {"accuracy": 0.58, "cost_usd": 0.12},
              "baselines": {"best_single": {"accuracy": 0.59, "cost_usd": 0.10}},
              "feedback": {"rate": 0.1, "noise": 0.0, "ratings": 465},
              "targets": {"feedback": {"last_fifth": {
                  "accuracy": 0.57, "best_single_accuracy": 0.61,
                  "cost_ratio_to_best_single": 0.9}},
                  "teacher_promotions": {"count": 3, "within_tolerance": 1}}}  # fmt: skip
    rows = table([point(report)], "best single").splitlines()
    assert "| last fifth: accuracy at cost (best single's accuracy) |" in rows[0]
    assert "APGR" not in rows[0]
    assert rows[2] == ("| agreement + user ratings | 0.1 | 0 | 0.580 | 120% | 0.570 at 90% (0.610) "
                       "| 465 | 0 | 3 (1 within 0.02) |")  # fmt: skip
    # A RouteLLM report counts its promotions to teacher from its role changes (none checked).
    gsm = {**_report(0.0), "role_changes": [{"to": "teacher"}, {"to": "ta"}, {"to": "teacher"}]}
    assert point(gsm).teachers == 2 and point(gsm).teachers_within is None
    assert table([point(gsm)], "supervisor only").splitlines()[2].endswith("| 0 | 2 | 2 |")

