"""Persistence: SQLAlchemy models, the async engine, migrations and small query modules.

Each module here holds the queries for one table family and takes an ``AsyncSession``;
handlers never build SQL themselves.
"""
