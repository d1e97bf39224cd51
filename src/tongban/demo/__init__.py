"""Demo seeding for `tongban demo`: a real catalog, synthetic people and enterprises, 一件事
scenarios and stuck cases. Outside the domain apps; nothing imports it but the CLI and tests."""
