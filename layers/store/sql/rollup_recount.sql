CREATE OR REPLACE FUNCTION public.rollup_recount(p_rounds integer[], p_codes text[], p_part text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    WITH pairs AS (
        SELECT DISTINCT r AS round, c AS code
        FROM unnest(p_rounds, p_codes) AS u(r, c) WHERE c IS NOT NULL
    ),
    stale AS (
        SELECT r.round, r.code, r.key, r.n
        FROM rollup r JOIN pairs p ON r.round = p.round AND r.code = p.code
        WHERE (r.key = 'households') = (p_part = 'households')
    ),
    delta AS (
        SELECT d.round, d.code, d.key, sum(d.n) AS n
        FROM (SELECT * FROM rollup_fresh(p_rounds, p_codes, p_part)
              UNION ALL SELECT s.round, s.code, s.key, -s.n FROM stale s) AS d
        GROUP BY 1, 2, 3
        HAVING sum(d.n) <> 0
    )
    -- Sorted, so that concurrent writers lock roll-up rows in the same order.
    INSERT INTO rollup AS t (round, code, key, n)
    SELECT d.round, l.code, d.key, sum(d.n)
    FROM delta d
    CROSS JOIN LATERAL (VALUES (d.code), (left(d.code, 4)), (left(d.code, 2)), ('')) AS l(code)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (round, code, key) DO UPDATE SET n = t.n + excluded.n;
END $function$
