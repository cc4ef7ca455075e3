"""The SQL the survey importer runs, and the column lists bound to it.

Statements on the session's stage tables (created by ``STAGING``), the upserts that merge them
into ``household`` and ``problem``, and the reads of stored rows. Values are bound parameters;
only quoted table names are formatted in (``VILLAGES``, ``STORED``).
"""

AREA_POLYGONS = (
    "SELECT code, geom FROM admin_unit WHERE level = :level AND geom IS NOT NULL ORDER BY code"
)
AREA_PARENTS = "SELECT code, parent_code FROM admin_unit WHERE level IN ('subdistrict', 'district')"

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_batch_household (
    household_id text, round int, PRIMARY KEY (household_id, round)) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_row (
    household_id text, round int, category text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_household (
    household_id text, round int, house_no text, moo int, declared_subdistrict text, community text,
    members int, urban boolean, head_id_hash text, lon double precision, lat double precision,
    precision text, outside_m double precision, flags text[], subdistrict_code text,
    district_code text, province_code text, surveyed_on date, source_row bigint)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_problem (
    household_id text, round int, category text, detail text, status text, reported_on date,
    updated_on date, resolved_on date, source_row bigint) ON COMMIT DELETE ROWS;
-- Rows of a household already copied into a round being loaded: upserted once it is attached.
CREATE TEMP TABLE IF NOT EXISTS late_household (LIKE stage_household, batch bigint);
CREATE TEMP TABLE IF NOT EXISTS late_problem (LIKE stage_problem);
CREATE TEMP TABLE IF NOT EXISTS late_row (LIKE stage_row);
TRUNCATE late_household, late_problem, late_row;
"""
LATE_BATCHES = "SELECT DISTINCT batch FROM late_household ORDER BY 1"
# Held back rows go in as they would have batch by batch: one batch's households at a time (a
# later batch's values merge into an earlier one's), then every problem.
LATE_BATCH = """
INSERT INTO stage_household
SELECT household_id, round, house_no, moo, declared_subdistrict, community, members, urban,
    head_id_hash, lon, lat, precision, outside_m, flags, subdistrict_code, district_code,
    province_code, surveyed_on, source_row
FROM late_household WHERE batch = :batch
"""
LATE_PROBLEMS = """
INSERT INTO stage_problem SELECT * FROM late_problem;
INSERT INTO stage_row SELECT * FROM late_row;
TRUNCATE late_household, late_problem, late_row;
"""

PROBLEM_COLUMNS = ("detail", "status", "reported_on", "updated_on", "resolved_on")
ROW_KEYS = ["household_id", "round", "category"]
#: Flags that describe how a position was found: they follow the position.
PLACEMENT_FLAGS = (
    "swapped_coordinates",
    "utm_coordinates",
    "outside_declared_subdistrict",
    "subdistrict_from_point",
    "missing_coordinates",
    "coordinates_rejected",
    "unreadable_coordinates",
    "representative_point",
)
# Upserts merge a file into what is stored: a value the file does not give (its column is absent,
# or its cell empty: NULL in the stage) leaves the stored value alone. A fallback position (no
# usable coordinates) never replaces a stored one while the declared subdistrict stays the same.
# Flags accumulate, except those of the position, which follow it. Only rows whose values change
# are written (their ``updated_at`` is then the transaction's start, ``now()``). Counted from the
# statement's snapshot: partitioned tables cannot return ``xmax`` to tell inserts from updates.
UPSERT_HOUSEHOLDS = """
WITH merged AS (
    SELECT s.household_id, s.round, s.source_row,
        coalesce(s.house_no, t.house_no) AS house_no,
        coalesce(s.moo, t.moo) AS moo,
        s.declared_subdistrict,
        coalesce(s.community, t.community) AS community,
        coalesce(s.members, t.members) AS members,
        coalesce(s.urban, t.urban) AS urban,
        coalesce(s.head_id_hash, t.head_id_hash) AS head_id_hash,
        CASE WHEN k.keep THEN t.geom ELSE s.geom END AS geom,
        CASE WHEN k.keep THEN t.precision ELSE s.precision END AS precision,
        CASE WHEN k.keep THEN t.outside_m ELSE s.outside_m END AS outside_m,
        CASE WHEN t.flags IS NULL OR t.flags = s.flags THEN s.flags ELSE ARRAY(
            SELECT f FROM (
                SELECT f FROM unnest(t.flags) f WHERE k.keep OR f <> ALL(:placement)
                UNION
                SELECT f FROM unnest(s.flags) f WHERE NOT (k.keep AND f = ANY(:placement))
            ) AS u ORDER BY f COLLATE "C"
        ) END AS flags,
        CASE WHEN k.keep THEN t.subdistrict_code ELSE s.subdistrict_code END AS subdistrict_code,
        CASE WHEN k.keep THEN t.district_code ELSE s.district_code END AS district_code,
        CASE WHEN k.keep THEN t.province_code ELSE s.province_code END AS province_code,
        coalesce(s.surveyed_on, t.surveyed_on) AS surveyed_on,
        t.household_id IS NOT NULL AS stored,
        t
    FROM (SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geom FROM stage_household) s
    LEFT JOIN household t USING (household_id, round)
    CROSS JOIN LATERAL (
        SELECT t.household_id IS NOT NULL AND s.precision IN ('village', 'subdistrict', 'district')
            AND s.declared_subdistrict = t.declared_subdistrict AS keep
    ) k
),
changed AS (
    SELECT * FROM merged m
    WHERE NOT m.stored OR (
        m.house_no, m.moo, m.declared_subdistrict, m.community, m.members, m.urban,
        m.head_id_hash, m.geom, m.precision, m.outside_m, m.flags, m.subdistrict_code,
        m.district_code, m.province_code, m.surveyed_on
    ) IS DISTINCT FROM (
        (m.t).house_no, (m.t).moo, (m.t).declared_subdistrict, (m.t).community, (m.t).members,
        (m.t).urban, (m.t).head_id_hash, (m.t).geom, (m.t).precision, (m.t).outside_m,
        (m.t).flags, (m.t).subdistrict_code, (m.t).district_code, (m.t).province_code,
        (m.t).surveyed_on
    )
),
written AS (
    INSERT INTO household AS t (household_id, round, house_no, moo, declared_subdistrict,
        community, members, urban, head_id_hash, geom, precision, outside_m, flags,
        subdistrict_code, district_code, province_code, surveyed_on, import_job_id, source_row)
    SELECT household_id, round, house_no, moo, declared_subdistrict, community, members, urban,
        head_id_hash, geom, precision, outside_m, flags, subdistrict_code, district_code,
        province_code, surveyed_on, :job, source_row
    FROM changed
    ON CONFLICT (household_id, round) DO UPDATE SET house_no = excluded.house_no,
        moo = excluded.moo, declared_subdistrict = excluded.declared_subdistrict,
        community = excluded.community, members = excluded.members, urban = excluded.urban,
        head_id_hash = excluded.head_id_hash, geom = excluded.geom,
        precision = excluded.precision, outside_m = excluded.outside_m, flags = excluded.flags,
        subdistrict_code = excluded.subdistrict_code, district_code = excluded.district_code,
        province_code = excluded.province_code, surveyed_on = excluded.surveyed_on,
        import_job_id = excluded.import_job_id, source_row = excluded.source_row,
        updated_at = now()
)
SELECT count(*) FILTER (WHERE NOT stored), count(*) FILTER (WHERE stored) FROM changed
"""
# A row of a category a case corrected (``recategorise``) is the corrected problem's: the case's
# history says from which category, and the problem's key now holds the right one. Where the
# file has a row of the right category too, the row of the wrong one is dropped.
CORRECTED_CATEGORIES = """
CREATE TEMP TABLE corrected ON COMMIT DROP AS
SELECT DISTINCT k.household_id, k.round, e.details->>'from_category' AS was, k.category AS now
FROM case_event e JOIN problem_case k ON k.id = e.case_id
JOIN stage_problem s ON s.household_id = k.household_id AND s.round = k.round
    AND s.category = e.details->>'from_category'
WHERE e.details ? 'from_category';
DELETE FROM stage_problem s USING corrected c
WHERE s.household_id = c.household_id AND s.round = c.round AND s.category = c.was
  AND EXISTS (SELECT 1 FROM stage_problem t WHERE t.household_id = s.household_id
              AND t.round = s.round AND t.category = c.now);
UPDATE stage_problem s SET category = c.now FROM corrected c
WHERE s.household_id = c.household_id AND s.round = c.round AND s.category = c.was;
DROP TABLE corrected
"""
# A case's decisions stand against an older survey: a row's status (and dates) replace the
# stored ones only when the row is dated (its updated_on, else reported_on, else its household's
# surveyed_on) after the case's last event, in Thai dates; a row without a date never does.
# When a newer row changes the status of a problem with a case, the case's history says so.
UPSERT_PROBLEMS = """
WITH merged AS (
    SELECT s.household_id, s.round, s.category, s.source_row, h.subdistrict_code,
        c.id AS case_id, c.state AS case_state,
        c.id IS NOT NULL AND coalesce(
            (c.last_event_at AT TIME ZONE 'Asia/Bangkok')::date
                >= coalesce(s.updated_on, s.reported_on, h.surveyed_on),
            true) AS case_stands,
        coalesce(s.detail, t.detail) AS detail,
        coalesce(s.status, t.status, 'open') AS row_status,
        coalesce(s.reported_on, t.reported_on) AS reported_on,
        coalesce(s.updated_on, t.updated_on) AS row_updated_on,
        coalesce(s.resolved_on, t.resolved_on) AS row_resolved_on,
        t.household_id IS NOT NULL AS stored,
        t.detail AS was_detail, t.status AS was_status, t.reported_on AS was_reported_on,
        t.updated_on AS was_updated_on, t.resolved_on AS was_resolved_on
    FROM stage_problem s
    JOIN household h USING (household_id, round)
    LEFT JOIN problem t USING (household_id, round, category)
    LEFT JOIN problem_case c USING (household_id, round, category)
),
decided AS (
    SELECT *,
        CASE WHEN case_stands THEN was_status ELSE row_status END AS status,
        CASE WHEN case_stands THEN was_updated_on ELSE row_updated_on END AS updated_on,
        CASE WHEN case_stands THEN was_resolved_on ELSE row_resolved_on END AS resolved_on
    FROM merged
),
changed AS (
    SELECT * FROM decided
    WHERE NOT stored
       OR (detail, status, reported_on, updated_on, resolved_on) IS DISTINCT FROM
          (was_detail, was_status, was_reported_on, was_updated_on, was_resolved_on)
),
noted AS (
    INSERT INTO case_event (case_id, at, action, actor, role, from_state, to_state, note, details)
    SELECT case_id, now(), 'survey', 'import job ' || CAST(:job AS text), 'system',
        case_state, case_state, 'a newer survey row says ' || status,
        jsonb_build_object('status', status, 'was_status', was_status, 'import_job', :job)
    FROM changed
    WHERE case_id IS NOT NULL AND NOT case_stands AND status IS DISTINCT FROM was_status
),
written AS (
    INSERT INTO problem AS t (household_id, round, category, detail, status, reported_on,
        updated_on, resolved_on, subdistrict_code, import_job_id, source_row)
    SELECT household_id, round, category, detail, status, reported_on, updated_on, resolved_on,
        subdistrict_code, :job, source_row
    FROM changed
    ON CONFLICT (household_id, round, category) DO UPDATE SET detail = excluded.detail,
        status = excluded.status, reported_on = excluded.reported_on,
        updated_on = excluded.updated_on, resolved_on = excluded.resolved_on,
        import_job_id = excluded.import_job_id, source_row = excluded.source_row,
        updated_at = now()
)
SELECT count(*) FILTER (WHERE NOT stored), count(*) FILTER (WHERE stored) FROM changed
"""
# Rows whose household or problem this transaction wrote.
COUNT_ROWS = """
SELECT count(*) FILTER (WHERE h.updated_at = now() OR p.updated_at = now())
FROM stage_row r
JOIN household h ON h.household_id = r.household_id AND h.round = r.round
LEFT JOIN problem p
    ON p.household_id = r.household_id AND p.round = r.round AND p.category = r.category
"""
VILLAGES = """
SELECT subdistrict_code, moo,
    -- In a fixed order: a float sum depends on it, and the rows' physical order may differ.
    sum(ST_X(geom) ORDER BY household_id, round), sum(ST_Y(geom) ORDER BY household_id, round),
    count(*)
FROM ({stored}) h
WHERE precision IN ('gps', 'gps_corrected')
  AND subdistrict_code = ANY(CAST(:codes AS text[]))
  AND (subdistrict_code, moo) IN (
    SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:moos AS int[])))
  AND NOT EXISTS (SELECT 1 FROM stage_batch_household s
                  WHERE s.household_id = h.household_id AND s.round = h.round)
GROUP BY subdistrict_code, moo
"""
STORED = "SELECT household_id, round, subdistrict_code, moo, geom, precision FROM {table}"
# Households of a batch already stored outside the uploader's area.
STORED_OUTSIDE = (
    "SELECT h.household_id, h.round, h.subdistrict_code FROM household h "
    "JOIN unnest(CAST(:ids AS text[]), CAST(:rounds AS int[])) AS s(household_id, round) "
    "USING (household_id, round) WHERE NOT starts_with(h.subdistrict_code, :area)"
)
