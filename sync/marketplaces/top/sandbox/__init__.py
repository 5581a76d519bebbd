"""The simulated TOP marketplace (SPEC D1): its own state, served over HTTP by this app."""
