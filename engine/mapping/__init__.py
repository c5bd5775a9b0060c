"""The mapping language: load, check, build and compile a mapping file; its value functions."""
