"""Alembic environment: runs on the connection handed over by ``layers.store.migrate``."""

from alembic import context

from layers.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
