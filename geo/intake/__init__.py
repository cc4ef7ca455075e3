"""Survey rules and placement on whole batches: values normalised, personal data, rows placed."""
