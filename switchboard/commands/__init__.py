"""The `switchboard` command line: one typer sub-app per concern, combined in `switchboard.cli`."""
