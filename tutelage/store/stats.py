"""Read models over the ledger for promotion and evolution: plain rows in, pydantic out."""

from __future__ import annotations

from ..models.lifecycle import DomainStats, MemberDomainStats, PairStats, ThresholdRow
from ..policy.feedback import USER_JUDGE
from ..policy.peer import ESCALATED
from .ledger import Ledger

# The recent window: the last `window` queries recorded, judged or not. A member's record
# leaves out verdicts made only because a peer panel disagreed (policy.peer.ESCALATED).
_RECENT = """
recent AS (
    SELECT query_id, coalesce(domain, '*') AS domain, created_at, supervisor_called, status,
           cost_usd, nearest_similarity, cache_hit
    FROM queries ORDER BY created_at DESC, query_id DESC LIMIT ?
)
"""


def member_domain_stats(
    ledger: Ledger, supervisor: str, win_margin: float, window: int, recent_n: int = 50
) -> list[MemberDomainStats]:
    """Per member and domain, the judge's record and, apart, the users' (judge `user`): a
    query's wins and pairing with the supervisor are counted among verdicts of one kind. On a
    query where users rated both the member and the supervisor, the pair is the users' only."""
    rows = ledger.rows(
        f"""
        WITH {_RECENT},
        verdict_rows AS (
            SELECT v.query_id, v.member_id, v.score, v.judge = ? AS by_user, r.domain,
                   r.created_at
            FROM verdicts v JOIN recent r USING (query_id)
            WHERE v.score IS NOT NULL AND NOT ends_with(v.judge, ?)
        ),
        scored AS (
            SELECT *, max(score) OVER (PARTITION BY query_id, by_user) AS best,
                   max(CASE WHEN member_id = ? THEN score END)
                       OVER (PARTITION BY query_id, by_user) AS sup
            FROM verdict_rows
        ),
        user_pairs AS (SELECT query_id, member_id FROM scored WHERE by_user AND sup IS NOT NULL),
        judged AS (
            SELECT s.member_id, s.domain, count(*) AS judged,
                   sum(CASE WHEN s.score >= s.best - ? THEN 1 ELSE 0 END) AS wins,
                   sum(s.score) AS score_sum,
                   sum(CASE WHEN s.sup IS NOT NULL AND s.score >= s.sup - ? THEN 1 ELSE 0 END)
                       AS agree,
                   list(s.score ORDER BY s.created_at DESC, s.query_id DESC)[1:?] AS recent,
                   count(s.sup) FILTER (WHERE u.query_id IS NULL) AS paired,
                   coalesce(sum(s.score - s.sup) FILTER (WHERE u.query_id IS NULL), 0) AS pdiff,
                   coalesce(sum((s.score - s.sup) * (s.score - s.sup))
                            FILTER (WHERE u.query_id IS NULL), 0) AS pdiff2
            FROM scored s LEFT JOIN user_pairs u
                 ON u.query_id = s.query_id AND u.member_id = s.member_id
            WHERE NOT s.by_user
            GROUP BY s.member_id, s.domain
        ),
        users AS (
            SELECT member_id, domain, count(*) AS judged,
                   sum(CASE WHEN score >= best - ? THEN 1 ELSE 0 END) AS wins,
                   sum(score) AS score_sum, count(sup) AS paired,
                   coalesce(sum(score - sup), 0) AS pdiff,
                   coalesce(sum((score - sup) * (score - sup)), 0) AS pdiff2
            FROM scored WHERE by_user GROUP BY member_id, domain
        ),
        sup_record AS (SELECT domain, judged, score_sum FROM judged WHERE member_id = ?),
        sup_users AS (SELECT domain, judged, score_sum FROM users WHERE member_id = ?),
        spent AS (
            SELECT c.member_id, r.domain, sum(c.cost_usd) AS cost, count(*) AS answers,
                   sum(CASE WHEN c.error IS NOT NULL THEN 1 ELSE 0 END) AS failures
            FROM calls c JOIN recent r USING (query_id)
            WHERE c.kind <> 'judge'
            GROUP BY c.member_id, r.domain
        ),
        merged AS (
            SELECT coalesce(j.member_id, s.member_id, u.member_id) AS member_id,
                   coalesce(j.domain, s.domain, u.domain) AS domain,
                   coalesce(j.judged, 0) AS judged, coalesce(j.wins, 0) AS wins,
                   coalesce(j.score_sum, 0) AS score_sum, coalesce(j.agree, 0) AS agree,
                   coalesce(j.recent, []) AS recent, coalesce(s.cost, 0) AS cost,
                   coalesce(s.answers, 0) AS answers, coalesce(s.failures, 0) AS failures,
                   coalesce(j.paired, 0) AS paired, coalesce(j.pdiff, 0) AS pdiff,
                   coalesce(j.pdiff2, 0) AS pdiff2, coalesce(u.judged, 0) AS u_judged,
                   coalesce(u.wins, 0) AS u_wins, coalesce(u.score_sum, 0) AS u_score_sum,
                   coalesce(u.paired, 0) AS u_paired, coalesce(u.pdiff, 0) AS u_pdiff,
                   coalesce(u.pdiff2, 0) AS u_pdiff2
            FROM judged j FULL OUTER JOIN spent s
                 ON j.member_id = s.member_id AND j.domain = s.domain
                 FULL OUTER JOIN users u
                 ON u.member_id = coalesce(j.member_id, s.member_id)
                    AND u.domain = coalesce(j.domain, s.domain)
        )
        SELECT m.member_id, m.domain, m.judged, m.wins, m.score_sum, m.agree, m.recent, m.cost,
               m.answers, m.failures, m.paired, m.pdiff, m.pdiff2,
               coalesce(sr.judged, 0), coalesce(sr.score_sum, 0),
               m.u_judged, m.u_wins, m.u_score_sum, m.u_paired, m.u_pdiff, m.u_pdiff2,
               coalesce(su.judged, 0), coalesce(su.score_sum, 0)
        FROM merged m LEFT JOIN sup_record sr ON sr.domain = m.domain
             LEFT JOIN sup_users su ON su.domain = m.domain
        WHERE m.member_id <> ?
        ORDER BY 1, 2
        """,
        [window, USER_JUDGE, ESCALATED, supervisor, win_margin, win_margin, recent_n,
         win_margin, supervisor, supervisor, supervisor],
    )  # fmt: skip
    return [
        MemberDomainStats(member_id=r[0], domain=r[1], judged=int(r[2]), wins=int(r[3]),
                          score_sum=float(r[4]), agreements=int(r[5]),
                          recent_scores=[float(x) for x in r[6]], cost_usd=float(r[7]),
                          answers=int(r[8]), failures=int(r[9]), paired=int(r[10]),
                          paired_diff_sum=float(r[11]), paired_diff_sq=float(r[12]),
                          sup_judged=int(r[13]), sup_score_sum=float(r[14]),
                          user_judged=int(r[15]), user_wins=int(r[16]),
                          user_score_sum=float(r[17]), user_paired=int(r[18]),
                          user_paired_diff_sum=float(r[19]), user_paired_diff_sq=float(r[20]),
                          sup_user_judged=int(r[21]), sup_user_score_sum=float(r[22]))
        for r in rows
    ]  # fmt: skip


def pair_stats(ledger: Ledger, pass_score: float, window: int) -> list[PairStats]:
    """Per domain and pair of members: queries both answered, how often they agreed, and how
    often an agreed answer was judged (member_a's verdict: the users' where they rated it, else
    the judge's) and passed."""
    rows = ledger.rows(
        f"""
        WITH {_RECENT},
        judged AS (SELECT query_id, member_id,
                          coalesce(max(score) FILTER (WHERE judge = ?),
                                   max(score) FILTER (WHERE judge <> ?)) AS score
                   FROM verdicts WHERE score IS NOT NULL GROUP BY query_id, member_id)
        SELECT r.domain, a.member_a, a.member_b, count(*),
               sum(CASE WHEN a.agreed THEN 1 ELSE 0 END),
               sum(CASE WHEN a.agreed AND j.score IS NOT NULL THEN 1 ELSE 0 END),
               sum(CASE WHEN a.agreed AND j.score >= ? THEN 1 ELSE 0 END)
        FROM agreements a JOIN recent r USING (query_id)
             LEFT JOIN judged j ON j.query_id = a.query_id AND j.member_id = a.member_a
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,
        [window, USER_JUDGE, USER_JUDGE, pass_score],
    )
    return [
        PairStats(domain=r[0], member_a=r[1], member_b=r[2], together=int(r[3]),
                  agreed=int(r[4]), agreed_judged=int(r[5]), agreed_right=int(r[6]))
        for r in rows
    ]  # fmt: skip


def domain_stats(ledger: Ledger, window: int) -> list[DomainStats]:
    """Per domain: queries, the mean best judged score (the judge's verdicts: gaps and the
    thresholds' replay stay on the judge's scale), failures and the supervisor's share."""
    rows = ledger.rows(
        f"""
        WITH {_RECENT},
        best AS (SELECT query_id, max(score) AS best FROM verdicts
                 WHERE score IS NOT NULL AND judge <> ? GROUP BY query_id)
        SELECT r.domain, count(*),
               avg(b.best),
               avg(CASE WHEN r.status = 'failed' THEN 1.0 ELSE 0.0 END),
               avg(CASE WHEN r.supervisor_called THEN 1.0 ELSE 0.0 END)
        FROM recent r LEFT JOIN best b USING (query_id)
        WHERE NOT r.cache_hit
        GROUP BY r.domain ORDER BY r.domain
        """,
        [window, USER_JUDGE],
    )
    return [
        DomainStats(domain=r[0], queries=int(r[1]),
                    mean_best_score=float(r[2]) if r[2] is not None else None,
                    failure_rate=float(r[3]), supervisor_share=float(r[4]))
        for r in rows
    ]  # fmt: skip


def threshold_rows(ledger: Ledger, supervisor: str, window: int) -> list[ThresholdRow]:
    """Judged, non-cached queries with their cheapest scored non-supervisor answer (the judge's
    verdicts)."""
    rows = ledger.rows(
        f"""
        WITH {_RECENT},
        scored AS (
            SELECT v.query_id, v.member_id, v.score, c.cost_usd,
                   row_number() OVER (PARTITION BY v.query_id
                                      ORDER BY c.cost_usd, v.member_id) AS rank
            FROM verdicts v JOIN calls c
                 ON c.query_id = v.query_id AND c.member_id = v.member_id AND c.kind <> 'judge'
            WHERE v.score IS NOT NULL AND v.member_id <> ? AND v.judge <> ?
        ),
        best AS (SELECT query_id, max(score) AS best FROM verdicts
                 WHERE score IS NOT NULL AND judge <> ? GROUP BY query_id)
        SELECT r.nearest_similarity, b.best, r.cost_usd, s.score, s.cost_usd
        FROM recent r JOIN best b USING (query_id)
             LEFT JOIN scored s ON s.query_id = r.query_id AND s.rank = 1
        WHERE r.status = 'ok' AND NOT r.cache_hit AND r.nearest_similarity IS NOT NULL
        """,
        [window, supervisor, USER_JUDGE, USER_JUDGE],
    )
    return [
        ThresholdRow(nearest_similarity=float(r[0]), best_score=float(r[1]),
                     explore_cost=float(r[2]), solo_score=r[3], solo_cost=r[4])
        for r in rows
    ]  # fmt: skip
