"""The command's entry point: `python -m scanner` and the `artifact-scan` console script.

SIGINT is taken over before anything else is imported: an interrupt while the interpreter loads the CLI
prints one line and exits 130, never a traceback of whatever module was being imported."""

from __future__ import annotations


def main() -> int:
    from scanner import terminal

    terminal.exit_on_interrupt()
    from scanner import cli

    return cli.main()


if __name__ == "__main__":
    raise SystemExit(main())
