"""Roll-up keys shaped like the figures reports show.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

A report of N areas reads about 27 rows an area instead of every category × status pair:
``status:<s>``, ``category:<c>``, ``dimension:<d>`` and, for reports of one dimension,
``dimension_status:<d>:<s>`` (beside ``households``, ``affected`` and ``affected:<d>``).
"""

import runpy
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECOUNT = """
CREATE OR REPLACE FUNCTION rollup_recount(p_rounds int[], p_codes text[], p_part text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH pairs AS (
        SELECT DISTINCT r AS round, c AS code
        FROM unnest(p_rounds, p_codes) AS u(r, c) WHERE c IS NOT NULL
    ),
    fresh AS (
        SELECT h.round, h.subdistrict_code AS code, 'households'::text AS key, count(*) AS n
        FROM household h JOIN pairs p ON h.round = p.round AND h.subdistrict_code = p.code
        WHERE p_part = 'households'
        GROUP BY 1, 2
        UNION ALL
        SELECT q.round, q.subdistrict_code, 'affected' || coalesce(':' || c.dimension, ''),
            count(DISTINCT q.household_id)
        FROM problem q
        JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
        JOIN problem_category c ON c.code = q.category
        WHERE p_part = 'problems'
        GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, c.dimension),
                                (q.round, q.subdistrict_code))
        UNION ALL
        SELECT q.round, q.subdistrict_code,
            CASE WHEN GROUPING(c.dimension) = 0 AND GROUPING(q.status) = 0
                    THEN 'dimension_status:' || c.dimension || ':' || q.status
                 WHEN GROUPING(q.status) = 0 THEN 'status:' || q.status
                 WHEN GROUPING(q.category) = 0 THEN 'category:' || q.category
                 ELSE 'dimension:' || c.dimension END,
            count(*)
        FROM problem q
        JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
        JOIN problem_category c ON c.code = q.category
        WHERE p_part = 'problems'
        GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, q.status),
                                (q.round, q.subdistrict_code, q.category),
                                (q.round, q.subdistrict_code, c.dimension),
                                (q.round, q.subdistrict_code, c.dimension, q.status))
    ),
    stale AS (
        SELECT r.round, r.code, r.key, r.n
        FROM rollup r JOIN pairs p ON r.round = p.round AND r.code = p.code
        WHERE (r.key = 'households') = (p_part = 'households')
    ),
    delta AS (
        SELECT round, code, key, sum(n) AS n
        FROM (SELECT * FROM fresh UNION ALL SELECT round, code, key, -n FROM stale) AS d
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0
    )
    -- Sorted, so that concurrent writers lock roll-up rows in the same order.
    INSERT INTO rollup AS t (round, code, key, n)
    SELECT d.round, l.code, d.key, sum(d.n)
    FROM delta d
    CROSS JOIN LATERAL (VALUES (d.code), (left(d.code, 4)), (left(d.code, 2)), ('')) AS l(code)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (round, code, key) DO UPDATE SET n = t.n + excluded.n;
END $$;
"""
RECOUNT_ALL = """
SELECT rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
FROM (SELECT DISTINCT round, subdistrict_code FROM problem) AS s
"""


def upgrade() -> None:
    op.execute(RECOUNT)
    op.execute("DELETE FROM rollup WHERE key LIKE 'problems:%'")
    op.execute(RECOUNT_ALL)


def downgrade() -> None:
    earlier = runpy.run_path(str(Path(__file__).with_name("0003_rollups.py")))["RECOUNT"]
    function = earlier[: earlier.index("CREATE FUNCTION rollup_households")]
    op.execute(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DELETE FROM rollup WHERE key <> 'households' AND key NOT LIKE 'affected%'")
    op.execute(RECOUNT_ALL)
