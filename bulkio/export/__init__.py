"""Reading a table from the server into sheet columns: `table` (a DataFrame, in memory) and `stream` (page by
page to a workbook or CSV, for exports bigger than memory)."""
