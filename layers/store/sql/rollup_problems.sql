CREATE OR REPLACE FUNCTION public.rollup_problems()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
        FROM (SELECT DISTINCT round, subdistrict_code FROM new_rows) AS s;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
        FROM (SELECT DISTINCT round, subdistrict_code FROM old_rows) AS s;
    ELSE
        EXECUTE $q$
            SELECT rollup_recount(array_agg(round), array_agg(code), 'problems')
            FROM (
                SELECT o.round, o.subdistrict_code AS code
                FROM new_rows n JOIN old_rows o USING (id)
                WHERE (n.category, n.status, n.subdistrict_code, n.round, n.household_id)
                    IS DISTINCT FROM
                    (o.category, o.status, o.subdistrict_code, o.round, o.household_id)
                UNION
                SELECT n.round, n.subdistrict_code
                FROM new_rows n JOIN old_rows o USING (id)
                WHERE (n.category, n.status, n.subdistrict_code, n.round, n.household_id)
                    IS DISTINCT FROM
                    (o.category, o.status, o.subdistrict_code, o.round, o.household_id)
            ) AS s
        $q$;
    END IF;
    RETURN NULL;
END $function$
