"""Channel adapters: each translates one platform's payloads to and from ``bot.core.messages``."""
