"""Channel adapters: each turns one platform's events into `core.contracts.InboundMessage`
and sends `core.contracts.OutboundMessage`. No business logic lives here."""
