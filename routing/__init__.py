"""The Redis-backed operator queue: service levels, assignment, presence and the SLA watcher."""
