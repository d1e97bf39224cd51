"""Settings packages: base (shared, env-driven), dev (tongban demo), test, production."""
