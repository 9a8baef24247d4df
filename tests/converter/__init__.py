"""Tests of the modular converter (converter/): one intent per test, run with `python -m pytest tests/converter -q`."""
