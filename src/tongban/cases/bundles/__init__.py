"""一件事: one submission for a bundle of items — a child case per applicable item, waiting
children released as their dependencies are approved (ADR 0012). Builds on `submission`."""
