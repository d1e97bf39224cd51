"""The edge: middlewares that answer before any view — rate limits per client (ADR 0017),
load shedding with the request deadline (ADR 0016) — and the one early-refusal response they
share. They import no domain app: they must stay cheap and work when the apps cannot."""
