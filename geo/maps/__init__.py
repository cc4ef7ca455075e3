"""The Folium map builders: the seven kinds, the page around them, styles, words and assets."""
