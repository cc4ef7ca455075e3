"""Loaded geography: boundaries, area queries, the registry of codes, the Geo-social layers."""
