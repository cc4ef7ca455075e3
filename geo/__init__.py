"""Pure spatial logic: GeoDataFrames and arrays in, results out.

Nothing here opens a database, reads an environment variable or speaks HTTP.
"""
