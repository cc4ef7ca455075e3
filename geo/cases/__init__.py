"""The rules of cases: how a problem is handed to the office with the authority, and followed."""
