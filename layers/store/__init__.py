"""Infrastructure: settings, the private cluster, the engine, tables, migrations and SQL."""
