"""Unit tests: pure domain logic, no I/O."""
