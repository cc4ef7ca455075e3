"""Synthetic data: a Re X-ray survey with planted defects, and a Geo-social water set."""
