CREATE OR REPLACE FUNCTION public.rollup_truncated()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    DELETE FROM rollup WHERE TG_TABLE_NAME = 'household' OR key <> 'households';
    RETURN NULL;
END $function$
