"""The workbook format, both ways: its names (`layout`), how a cell value is written, read and compared
(`values`, the one place for those rules), custom fields as columns (`flatten`), the export snapshot, cells a
spreadsheet program re-wrote (`precision`), reading (`read`) and writing (`write`, with the XML row writer
`xmlrows`). No network: the rows come from `bulkio.export` and go to `bulkio.validate`.
"""
