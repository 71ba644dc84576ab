"""The engine: providers, profiles, handoffs, rounds, routing. No terminal code here."""
