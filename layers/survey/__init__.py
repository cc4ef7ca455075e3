"""Survey intake: read, check, place and store survey files.

Also import jobs and quarantine, the taxonomy, and synthetic surveys.
"""
