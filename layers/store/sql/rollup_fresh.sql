CREATE OR REPLACE FUNCTION public.rollup_fresh(p_rounds integer[], p_codes text[], p_part text, p_households regclass DEFAULT 'household'::regclass, p_problems regclass DEFAULT 'problem'::regclass)
 RETURNS TABLE(round integer, code text, key text, n bigint)
 LANGUAGE plpgsql
 STABLE
 SET jit TO 'off'
AS $function$
BEGIN
    RETURN QUERY EXECUTE format($q$
    WITH pairs AS (
        SELECT DISTINCT r AS round, c AS code
        FROM unnest($1, $2) AS u(r, c) WHERE c IS NOT NULL
    )
    SELECT h.round, h.subdistrict_code::text, 'households', count(*)
    FROM %1$s h JOIN pairs p ON h.round = p.round AND h.subdistrict_code = p.code
    WHERE $3 = 'households'
    GROUP BY 1, 2
    UNION ALL
    SELECT q.round, q.subdistrict_code::text, 'affected' || coalesce(':' || c.dimension, ''),
        count(DISTINCT q.household_id)
    FROM %2$s q
    JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
    JOIN problem_category c ON c.code = q.category
    WHERE $3 = 'problems'
    GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, c.dimension),
                            (q.round, q.subdistrict_code))
    UNION ALL
    SELECT q.round, q.subdistrict_code::text,
        CASE WHEN GROUPING(c.dimension) = 0 AND GROUPING(q.status) = 0
                THEN 'dimension_status:' || c.dimension || ':' || q.status
             WHEN GROUPING(q.status) = 0 THEN 'status:' || q.status
             WHEN GROUPING(q.category) = 0 THEN 'category:' || q.category
             ELSE 'dimension:' || c.dimension END,
        count(*)
    FROM %2$s q
    JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
    JOIN problem_category c ON c.code = q.category
    WHERE $3 = 'problems'
    GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, q.status),
                            (q.round, q.subdistrict_code, q.category),
                            (q.round, q.subdistrict_code, c.dimension),
                            (q.round, q.subdistrict_code, c.dimension, q.status))
    $q$, p_households, p_problems) USING p_rounds, p_codes, p_part;
END $function$
