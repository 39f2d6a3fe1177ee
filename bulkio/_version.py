"""The package version, in one place (the workbook metadata and the User-Agent quote it)."""

__version__ = "0.1.0"
