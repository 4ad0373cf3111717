"""The database: Flask-SQLAlchemy models and the queries the other layers need, one noun per module.

Storage stores: it may import core (for types and validated values) and helpers.config, never runtime, web,
cli or edge.
"""
