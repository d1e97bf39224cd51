"""一件事: one submission for a bundle of items — a child case per applicable item, waiting
children released as their dependencies are approved (ADR 0012). Writes in `services`, reads
in `selectors`, the applicant's view in `presenters`. Builds on `submission`."""
