"""The ground layer every package builds on: the contracts between channels and the
engine, the models and database, the state machine, Redis key names, leases, desk events
and the texts people read. It imports nothing of ours."""
