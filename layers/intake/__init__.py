"""Survey intake: read survey files, validate and place every row, store it or quarantine it."""
