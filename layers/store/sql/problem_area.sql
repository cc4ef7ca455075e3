CREATE OR REPLACE FUNCTION public.problem_area()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    SELECT subdistrict_code INTO NEW.subdistrict_code
    FROM household WHERE household_id = NEW.household_id AND round = NEW.round;
    RETURN NEW;
END $function$
