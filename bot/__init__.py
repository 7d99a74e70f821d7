"""Switchboard's conversation engine, domain model and application wiring."""
