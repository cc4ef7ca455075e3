"""Case hand-off: agencies and routing, cases and their history, the outbox, the job queue."""
