"""The Redis-backed operator queue, service levels and client recognition."""
