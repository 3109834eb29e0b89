"""The dashboard as one self-contained HTML page (inline CSS and SVG, no script, nothing
fetched): served by the gateway at /dashboard and written by `tutelage report --html`.

Every figure the tests compare with the ledger carries a `data-figure` attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from ..models.dashboard import Dashboard, QualityLine
from . import svg

WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": 0}
ROUTE_ORDER = ["novel", "hybrid", "peer", "familiar", "cache", "failed"]
# action -> its colour in svg.PALETTE (the legend lists them in this order)
_ACTION_COLOUR = {"spawn": 0, "promote": 1, "demote": 2, "retire": 3, "activate": 4}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:14px 24px;display:flex;flex-wrap:wrap;gap:16px;
align-items:center;justify-content:space-between}
header h1{font-size:18px;margin:0}header form{display:flex;gap:8px;align-items:center}
main{padding:16px 24px;max-width:1360px;margin:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.card,.panel{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 14px}
.card b{display:block;font-size:22px;margin-top:4px}.card small{color:#5f6b7a}
.card b small{font-size:13px;font-weight:400}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px;
margin-top:12px}.panel{margin-top:12px}.panel h2{font-size:15px;margin:0 0 8px}
.chart{width:100%;height:auto;max-width:820px;display:block}.grid{stroke:#e6e9ee}.tick{font-size:11px;fill:#5f6b7a}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:#5f6b7a}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #eef0f3;vertical-align:top}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}a{color:#2f6fde}.muted{color:#5f6b7a;font-size:12px}
"""


@dataclass(frozen=True)
class Links:
    """Addresses in the Temporal UI."""

    ui: str  # http://host:8233
    namespace: str

    def runs(self, query: str) -> str:
        return f"{self.ui}/namespaces/{self.namespace}/workflows?query={quote(query)}"

    def run(self, workflow_id: str) -> str:
        return f"{self.ui}/namespaces/{self.namespace}/workflows/{quote(workflow_id)}"


def usd(v: float) -> str:
    return f"${v:,.4f}" if abs(v) < 100 else f"${v:,.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _score(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f} ms"


def _short(ts: str, span_s: float = 3 * 86400.0) -> str:
    """A time as short as the window allows: seconds for a short one, the day for a long one."""
    fmt = "%H:%M:%S" if span_s < 2 * 3600 else "%H:%M" if span_s < 2 * 86400 else "%m-%d %H:%M"
    return datetime.fromisoformat(ts).strftime(fmt)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int],
           empty: str) -> str:  # fmt: skip
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    th = "".join(f'<th{" class=n" if i in numeric else ""}>{escape(h)}</th>'
                 for i, h in enumerate(head))  # fmt: skip
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)  # fmt: skip
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _fig(name: str, text: str) -> str:
    return f'<span data-figure="{escape(name)}">{escape(text)}</span>'


def _link(url: str, text: str) -> str:
    return f'<a href="{escape(url)}">{escape(text)}</a>'


def _filters(tenants: Sequence[str], tenant: str | None, window: str) -> str:
    t_opts = "".join(f'<option value="{escape(t)}"{" selected" if t == (tenant or "") else ""}>'
                     f'{escape(t or "all tenants")}</option>' for t in ["", *tenants])  # fmt: skip
    w_opts = "".join(f'<option{" selected" if w == window else ""}>{w}</option>' for w in WINDOWS)
    return (f'<form method="get" action="/dashboard"><select name="tenant" aria-label="tenant">'
            f'{t_opts}</select><select name="window" aria-label="window">{w_opts}</select>'
            '<button>show</button></form>')  # fmt: skip


def render(board: Dashboard, links: Links, *, tenants: Sequence[str], window: str,
           bench: dict[str, Any] | None = None, form: bool = True, school: str = "") -> str:  # fmt: skip
    t, q = board.totals, board.quality
    u = t.users
    tenant = board.request.tenant
    span = (datetime.fromisoformat(board.until) - datetime.fromisoformat(board.since)).total_seconds()
    scope = (f"{escape(tenant or 'all tenants')}, {board.since[:16].replace('T', ' ')} to "
             f"{board.until[:16].replace('T', ' ')} UTC")  # fmt: skip
    filters = _filters(tenants, tenant, window) if form else ""
    cards = "".join(f'<div class="card"><small>{escape(k)}</small><b>{v}</b></div>' for k, v in [
        ("queries", _fig("queries", f"{t.queries:,}") + (f' <small>({t.failed} failed)</small>'
                                                         if t.failed else "")),
        ("spent", _fig("spend", usd(t.cost_usd))),
        ("supervisor alone would have cost", _fig("supervisor_only", usd(t.supervisor_only_cost_usd))),
        ("saved", _fig("saved", usd(t.saved_usd)) + f" <small>{_fig('saved_share', _pct(t.saved_share))}</small>"),
        (f"the judge's figure: {q.figure}", _fig("quality", _score(t.quality))
         + f" <small>{_fig('judged', f'{t.judged:,}')} judged ({_pct(t.judged_share)} of "
           "served)</small>"),
        ("as users rated it: positive", _fig("users_positive", _pct(u.positive_share))
         + f" <small>of {_fig('users_rated', f'{u.rated:,}')} rated "
           f"({_fig('users_rated_share', _pct(u.rated_share))} of served), mean "
           f"{_fig('users_score', _score(u.score))}</small>"),
        ("the judge agreed with users", _fig("judge_agreement", _pct(u.agreement))
         + f" <small>on {_fig('compared', f'{u.compared:,}')} rated and judged</small>"),
    ])  # fmt: skip
    labels = [_short(b.start, span) for b in board.buckets]
    spend = svg.line_chart("spend over time", labels, [
        ("spent", [b.cost_usd for b in board.buckets]),
        ("supervisor alone", [b.supervisor_only_cost_usd for b in board.buckets])], usd)  # fmt: skip
    quality = svg.line_chart("quality over time", labels, [
        (f"the judge: {q.figure}", [b.quality for b in board.buckets]),
        ("users: mean score", [b.users.score for b in board.buckets]),
        ("users: share positive", [b.users.positive_share for b in board.buckets])],
        lambda v: f"{v:.2f}", top=1.0)  # fmt: skip
    audit = svg.line_chart("the audit over time", labels, [
        ("share of served answers judged", [b.judged_share for b in board.buckets]),
        ("share of served answers rated", [b.users.rated_share for b in board.buckets]),
        ("the judge agreed with users", [b.users.agreement for b in board.buckets])],
        lambda v: f"{v:.2f}", top=1.0)  # fmt: skip
    seen = {r for b in board.buckets for r in b.routes}
    order = [r for r in ROUTE_ORDER if r in seen] + sorted(seen - set(ROUTE_ORDER))
    routes = svg.stacked_bars("routes over time", labels,
                              [(r, [b.routes.get(r, 0) for b in board.buckets]) for r in order])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<title>tutelage dashboard{escape(f" - {school}" if school else "")}</title><style>{CSS}</style></head>
<body><header><h1>tutelage: the school{escape(f" {school}" if school else "")}</h1>
<span class="muted" style="color:#c9ced6">{scope}</span>{filters}</header><main>
<div class="cards">{cards}</div>
<div class="grid2"><div class="panel"><h2>Spend and supervisor-only spend (USD per slice)</h2>{spend}</div>
<div class="panel"><h2>Quality served: the judge's figure and the users'</h2>{quality}
<h2 style="margin-top:14px">The audit behind them: how much was judged and rated</h2>{audit}</div></div>
<div class="panel"><h2>Quality served by member, domain and tenant</h2>{_quality(board)}</div>
<div class="grid2"><div class="panel"><h2>Routes</h2>{routes}{_routes_table(board, links)}</div>
<div class="panel"><h2>Tenants</h2>{_tenants_table(board, links)}
<h2 style="margin-top:14px">Failures by kind</h2>{_failures(board)}</div></div>
<div class="panel"><h2>The roster</h2>{_members(board, links)}</div>
<div class="panel"><h2>Roles over time</h2>{_timeline(board, links)}</div>
{_bench(bench)}
<p class="muted">Generated {escape(datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))};
figures from the school's ledger, read through Temporal (DashboardWorkflow).</p>
</main></body></html>"""


def _quality(board: Dashboard) -> str:
    """Both figures per member (whose answer was served), domain and tenant, and what they
    mean."""
    q = board.quality
    judges = ", ".join(f"{escape(j)} ({n:,})" for j, n in q.judges.items()) or "none"
    what = (f"The judge's figure, <b>{_fig('judge_figure', q.figure)}</b>: the mean score the "
            f"judge gave the answers served (users' ratings left out); served answers scored by "
            f"{judges}. It passes an answer at {q.pass_score:g}."
            + (" Under agreement judging the supervisor's own answers score 1.0 by definition: "
               "it measures agreement with the supervisor, not quality." if q.mode == "agreement"
               else " A reference judge knew the gold answer when it scored: an oracle, an upper "
               "bound." if q.mode == "reference" else "")
            + f" Users: each rated query's standing (newest) rating of the served answer; rated: "
            f"the share of served answers rated; positive: a rating of at least "
            f"{q.positive_at:g} (up is 1, down 0), as a share of those rated. The judge agreed "
            f"with users when it passed the answer exactly where the user's score was at least "
            f"{q.rated_right_at:g}. Each answer counts where and when it was served.")  # fmt: skip
    tables = "".join(f'<h2 style="margin-top:14px">By {kind}</h2>' + _quality_table(kind, lines, q.figure)
                     for kind, lines in (("member", q.members), ("domain", q.domains),
                                         ("tenant", q.tenants)))  # fmt: skip
    return f'<p class="muted">{what}</p>{tables}'


def _quality_table(kind: str, lines: Sequence[QualityLine], figure: str) -> str:
    def row(line: QualityLine) -> list[str]:
        u, key = line.users, f"{kind}:{line.name}"
        return [escape(line.name or "(none)"), _fig(f"served:{key}", f"{u.served:,}"),
                _fig(f"quality:{key}", _score(line.quality)), f"{line.judged:,}",
                _fig(f"rated:{key}", f"{u.rated:,}") + f" ({_pct(u.rated_share)})",
                _fig(f"positive:{key}", _pct(u.positive_share)),
                _fig(f"users_score:{key}", _score(u.score)),
                _fig(f"agreement:{key}", _pct(u.agreement))
                + (f" of {u.compared:,}" if u.compared else ""),
                f"{u.judge_passed_rated_down:,}", f"{u.judge_failed_rated_up:,}"]  # fmt: skip

    return _table([kind, "served", f"the judge: {figure}", "judged", "rated by users",
                   "positive", "users' mean", "the judge agreed with users",
                   "judge passed, users down", "judge failed, users up"],
                  [row(line) for line in lines], set(range(1, 10)),
                  "no answers served in this window")  # fmt: skip


def _routes_table(board: Dashboard, links: Links) -> str:
    rows = [[_link(links.runs(f'TutelageRoute="{r.name}"'), r.name),
             _fig(f"route:{r.name}", f"{r.count:,}"), _ms(r.p50_ms), _ms(r.p95_ms)]
            for r in board.routes]  # fmt: skip
    return _table(["route", "queries", "p50", "p95"], rows, {1, 2, 3}, "no queries in this window")


def _tenants_table(board: Dashboard, links: Links) -> str:
    rows = [[_link(links.runs(f'TutelageTenant="{t.tenant}"'), t.tenant), f"{t.queries:,}",
             usd(t.cost_usd), usd(t.supervisor_only_cost_usd),
             usd(t.supervisor_only_cost_usd - t.cost_usd)] for t in board.tenants]  # fmt: skip
    return _table(["tenant", "queries", "spent", "supervisor alone", "saved"], rows, {1, 2, 3, 4},
                  "no queries in this window")  # fmt: skip


def _failures(board: Dashboard) -> str:
    rows = [[escape(k), _fig(f"failures:{k}", f"{n:,}")] for k, n in board.failures.items()]
    return _table(["kind", "calls"], rows, {1}, "no failed calls in this window")


def _members(board: Dashboard, links: Links) -> str:
    rows = [[_link(links.runs(f'TutelageWinner="{m.member_id}"'), m.member_id),
             escape(m.model), escape(", ".join(f"{d}: {r}" for d, r in m.roles.items())),
             _fig(f"calls:{m.member_id}", f"{m.calls:,}"), _fig(f"wins:{m.member_id}", f"{m.wins:,}"),
             _fig(f"member_spend:{m.member_id}", usd(m.cost_usd)), _ms(m.p50_ms), _ms(m.p95_ms),
             f"{m.failures:,}"] for m in board.members]  # fmt: skip
    return _table(["member", "model", "roles (domain: role)", "calls", "answered", "spent",
                   "p50", "p95", "failed calls"], rows, {3, 4, 5, 6, 7, 8},
                  "no calls in this window")  # fmt: skip


def _timeline(board: Dashboard, links: Links) -> str:
    ts = board.transitions
    if not ts:
        return '<p class="muted">no member has changed role yet</p>'
    times = [datetime.fromisoformat(x.at).timestamp() for x in ts if x.at]
    start, end = (min(times), max(times)) if times else (0.0, 1.0)
    members = list(dict.fromkeys(x.member_id for x in ts))
    marks = [(x.member_id, datetime.fromisoformat(x.at).timestamp() if x.at else start,
              f"{x.at[:19]} {x.action.value} {x.domain}: {x.from_role.value} -> "
              f"{x.to_role.value} ({x.by}) {x.reason}", _ACTION_COLOUR.get(x.action.value, 5))
             for x in ts]  # fmt: skip
    chart = svg.lanes("roles over time", start, end if end > start else start + 1, members, marks)
    rows = [[escape(x.at[:19].replace("T", " ")), _link(links.run(f"member-{x.member_id}"), x.member_id),
             escape(x.domain), _fig("transition", f"{x.action.value}: {x.from_role.value} -> "
                                    f"{x.to_role.value}"), escape(x.by), escape(x.reason)]
            for x in reversed(ts)]  # fmt: skip
    legend = svg.legend(list(_ACTION_COLOUR))
    return chart + legend + _table(["at (UTC)", "member", "domain", "change", "by", "reason"],
                                   rows, set(), "")  # fmt: skip


def _bench(report: dict[str, Any] | None) -> str:
    if not report or not report.get("sweep"):
        return ""
    curve = [(f"cost_weight {p['cost_weight']:g}", p["cost_usd"], p["accuracy"])
             for p in report["sweep"]]  # fmt: skip
    points = [(name, b["cost_usd"], b["accuracy"]) for name, b in report.get("baselines", {}).items()
              if isinstance(b, dict) and "cost_usd" in b and "accuracy" in b]  # fmt: skip
    chart = svg.scatter("accuracy against cost", curve, points, usd, lambda v: f"{v:.2f}")
    what = (f"{report.get('dataset', '?')}, {report.get('items', '?')} items, "
            f"{report.get('protocol', '?')} protocol, {report.get('judge', '?')} judging")
    return (f'<div class="panel"><h2>The latest benchmark: accuracy against cost</h2>'
            f'<p class="muted">{escape(what)}: the school\'s cost-weight sweep (line) and the '
            f'baselines (squares)</p>{chart}</div>')  # fmt: skip


def window_request(window: str, now: datetime) -> tuple[str | None, str]:
    """(since as ISO, the window's name) for a window name; unknown names are 'all'."""
    seconds = WINDOWS.get(window)
    if seconds is None:
        window, seconds = "all", 0
    if not seconds:
        return None, window
    return datetime.fromtimestamp(now.timestamp() - seconds, now.tzinfo).isoformat(), window


