"""Records in and out in bulk: import (`imports`) and export (`exports`) at COPY speed.

`formats` reads CSV, JSON Lines and JSON files into JSON values; `exports` writes a
model's records as PostgreSQL renders them for the API; `imports` checks every value
with the records services' own validation, stages the rows with COPY and writes them
in one transaction (`checks` finds what only the whole file shows: clashes, dangling
relations). The `records` management command, the export API view and the admin's
Import page are thin layers over these.
"""
