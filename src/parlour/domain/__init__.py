"""Domain logic: pure functions with no I/O."""
