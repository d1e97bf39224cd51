"""跨省通办: applications received here for another region, handed over as signed messages;
cases handled here for another region's desk, their steps reported back (ADR 0014). Builds on
`submission`."""
