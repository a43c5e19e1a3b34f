"""The command line: the only place where errors become messages and exit codes.

command holds the parser and main(); each command group's handlers live in a module of their own, imported
only when that command runs, so that `--help` loads no heavy library."""
