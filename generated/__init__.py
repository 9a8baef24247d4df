"""Generated standalone model packages, one per modular file: never edit by hand, run converter/run.py."""
