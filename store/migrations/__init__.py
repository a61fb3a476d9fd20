"""Alembic migrations of suqiu's schema; applied by `suqiu init`."""
