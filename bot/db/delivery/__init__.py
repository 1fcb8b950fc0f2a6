"""The delivery engine's queries: the outbox, its ledger, campaigns and their audiences (PostgreSQL)."""
