"""Analysis of the stored survey: roll-ups (public ones too), density and hotspots, targeting."""
