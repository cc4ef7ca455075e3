CREATE OR REPLACE FUNCTION public.rollup_households()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'households')
        FROM (SELECT DISTINCT round, subdistrict_code FROM new_rows) AS s;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'households')
        FROM (SELECT DISTINCT round, subdistrict_code FROM old_rows) AS s;
    ELSE
        -- A household that moves takes its problems along.
        EXECUTE $q$
            UPDATE problem q SET subdistrict_code = n.subdistrict_code
            FROM new_rows n JOIN old_rows o USING (household_id, round)
            WHERE q.household_id = n.household_id AND q.round = n.round
              AND n.subdistrict_code IS DISTINCT FROM o.subdistrict_code
        $q$;
        EXECUTE $q$
            SELECT rollup_recount(array_agg(round), array_agg(code), 'households')
            FROM (
                SELECT o.round, unnest(ARRAY[o.subdistrict_code, n.subdistrict_code]) AS code
                FROM new_rows n JOIN old_rows o USING (household_id, round)
                WHERE n.subdistrict_code IS DISTINCT FROM o.subdistrict_code
            ) AS s
        $q$;
    END IF;
    RETURN NULL;
END $function$
