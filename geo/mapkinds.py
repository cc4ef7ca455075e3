"""The kinds of map Bamrung draws: a module of its own so that listing them loads no Folium."""

KINDS = ("choropleth", "hexbin", "heatmap", "hotspots", "water", "targeting", "households")
