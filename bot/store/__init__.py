"""The store: the only package that knows SQL (SQLAlchemy 2 async; SQLite by default, PostgreSQL in production)."""
