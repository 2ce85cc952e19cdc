"""DuckDB warehouse: migrations, loaders and the named read queries."""
