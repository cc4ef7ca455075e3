"""Who sees what: users and API tokens, the one scope filter, records and the access log."""
