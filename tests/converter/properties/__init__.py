"""Property-based converter tests on synthetic (plain Python) programs."""
