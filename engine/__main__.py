"""`python -m engine ...` is `etl ...`."""

from engine.cli import main

main(prog_name="etl")
