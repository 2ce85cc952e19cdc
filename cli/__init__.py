"""The `voc` command line: the application layer over flows, warehouse, nlp, notify and demo.

Each command group lives in its own module (`cli.ingest`, `cli.sources`, `cli.sentiment`...)
with an ``add_parser(s)`` function; `cli.main` assembles them.
"""
