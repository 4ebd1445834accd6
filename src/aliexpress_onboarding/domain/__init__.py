"""The pure domain: values, eligibility rules, aggregates. No I/O, no clock reads."""
