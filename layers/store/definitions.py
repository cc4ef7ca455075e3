"""The current definitions of the platform's SQL functions and triggers, as readable files.

Migrations hold the history: each creates or replaces what it needs, so the definition in force
may be spread over several of them. ``layers/store/sql/`` holds what the database holds after
the last migration, one file a function (``FUNCTION.sql``) and one for the triggers
(``triggers.sql``), in PostgreSQL's own rendering (``pg_get_functiondef``,
``pg_get_triggerdef``). A test checks the files against a freshly migrated database; after a
migration that changes a function, ``bamrung db definitions --write`` rewrites them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, text

FOLDER = Path(__file__).with_name("sql")
TRIGGERS = "triggers"

# Functions of the public schema that no extension (PostGIS) owns.
_FUNCTIONS = text(
    """
    SELECT p.proname, pg_get_functiondef(p.oid)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.prokind = 'f'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.objid = p.oid AND d.classid = 'pg_proc'::regclass
                        AND d.deptype = 'e')
    ORDER BY p.proname
    """
)
# Triggers of the platform's tables; a partition's clone of its parent's trigger is left out.
_TRIGGERS = text(
    """
    SELECT pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgparentid = 0
    ORDER BY c.relname, t.tgname
    """
)


def current(conn: Connection) -> dict[str, str]:
    """What the database holds: file stem → text (each function, then the triggers)."""
    found = {name: body.strip() + "\n" for name, body in conn.execute(_FUNCTIONS)}
    triggers = [row[0] + ";" for row in conn.execute(_TRIGGERS)]
    found[TRIGGERS] = "\n".join(triggers) + "\n"
    return found


def stored(folder: Path = FOLDER) -> dict[str, str]:
    """What the files hold: file stem → text."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.sql"))}


def _apart(now: dict[str, str], files: dict[str, str]) -> list[str]:
    return sorted(name for name in now.keys() | files.keys() if now.get(name) != files.get(name))


def differences(conn: Connection, folder: Path = FOLDER) -> list[str]:
    """The names whose definition in the database and file differ (or exist on one side only)."""
    return _apart(current(conn), stored(folder))


def write(conn: Connection, folder: Path = FOLDER) -> list[str]:
    """Rewrite the files from the database; the names of the files that changed."""
    now = current(conn)
    changed = _apart(now, stored(folder))
    folder.mkdir(exist_ok=True)
    for name in changed:
        if name in now:
            (folder / f"{name}.sql").write_text(now[name], encoding="utf-8")
        else:
            (folder / f"{name}.sql").unlink()
    return changed
