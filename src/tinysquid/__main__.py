"""`python -m tinysquid` runs the command-line interface."""

from tinysquid.cli import main

if __name__ == "__main__":
    main()
