"""Data and storage in capability packages: store, geography, survey, analysis, access, delivery."""
