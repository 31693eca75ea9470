"""The event store (the system of record) and its projections, through SQLAlchemy."""
