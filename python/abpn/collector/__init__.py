"""The collector: result records in SQLite, the HTTP service in front of them, and the report.

store.py    the only code that touches the database (`serve`, `push-and-bench --db`, `report`)
checks.py   a record's internal consistency, beyond what a schema can say
report.py   the per-chipset report and its renderings (reads the store, knows nothing of HTTP)
app.py      the HTTP API and the dashboard (uses the store and the report)
"""
