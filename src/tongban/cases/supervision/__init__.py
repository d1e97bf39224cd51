"""协办、转办与督办: assist tasks, hand-offs and transfers between departments (`collaboration`);
stuck-case and deadline alerts with escalation (`services`) (ADR 0013); their reads, always
scoped, in `selectors`, the rows for pages and the API in `presenters`. Builds on
`submission`."""
