CREATE OR REPLACE FUNCTION public.rollup_add_levels(p_table regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET jit TO 'off'
AS $function$
BEGIN
    EXECUTE format($q$
    INSERT INTO %1$s (round, code, key, n)
    SELECT f.round, l.code, f.key, sum(f.n)
    FROM %1$s f
    CROSS JOIN LATERAL (VALUES (left(f.code, 4)), (left(f.code, 2)), ('')) AS l(code)
    WHERE length(f.code) = 6
    GROUP BY 1, 2, 3
    $q$, p_table);
END $function$
