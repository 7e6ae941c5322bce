"""Model providers, routing, calls and pricing."""
