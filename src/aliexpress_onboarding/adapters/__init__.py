"""Adapters for the ports: in-memory defaults here; SQLite and PostgreSQL in sibling modules."""
