"""One module per kind of data; each exposes MOVER (see migrate/kinds.py)."""
