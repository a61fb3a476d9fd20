"""The database: models, sessions, case numbers, transitions and the outbox."""
