"""Survey forms and their exports: what ODK Central and KoboToolbox write, read as canonical."""
