CREATE OR REPLACE FUNCTION public.case_event_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'case_event is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $function$
