"""Checking a read sheet before anything is planned: the rules (`rules`: types, required columns, references,
the server checks) and the error workbook a user fixes the sheet from (`errorbook`)."""
