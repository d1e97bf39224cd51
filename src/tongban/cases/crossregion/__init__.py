"""跨省通办: applications received here for another region, handed over as signed messages;
cases handled here for another region's desk, their steps reported back (ADR 0014). Writes
and message handlers in `services`, reads in `selectors`, the received application as shown
in `presenters`. Builds on `submission`."""
