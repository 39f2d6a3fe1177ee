"""The PostgREST side: the client (auth, retries, rate limit), paging given a fetch function, the query dialect
(filters, quoting, guard encoding), the server's OpenAPI catalog, label <-> id lookups and the connection check.

Nothing here knows about spreadsheets: `bulkio.sheets` and the stages above it call in, never the other way.
"""
