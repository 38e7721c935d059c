"""`python -m tinysquid` runs the command-line interface."""

from tinysquid.cli import main

main()
