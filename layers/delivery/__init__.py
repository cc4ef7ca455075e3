"""What leaves the platform: the data of each map kind, and files for GIS tools."""
