"""``python -m tracker``: the ``tracker`` command, for an environment without its script."""

from tracker.cli import cli

if __name__ == "__main__":
    cli(prog_name="tracker")
