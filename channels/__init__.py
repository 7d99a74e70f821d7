"""Channel adapters: each turns one platform's events into `bot.contracts.InboundMessage`
and sends `bot.contracts.OutboundMessage`. No business logic lives here."""
