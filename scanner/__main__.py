"""The command's entry point: `python -m scanner` and the `artifact-scan` console script.

SIGINT is taken over before anything else is imported: an interrupt while the interpreter loads the CLI
prints one line and exits 130, never a traceback of whatever module was being imported. (Before this
module's first line runs, the interrupt belongs to Python's own start-up and runpy.)"""

try:
    from scanner import terminal

    terminal.exit_on_interrupt()
except KeyboardInterrupt:
    # The instant between the import and the handler: Python's default handler raised. Same line, same code
    # (a module whose import was interrupted is not kept, so this imports it afresh).
    from scanner.terminal import exit_interrupted

    exit_interrupted(2, None)


def main() -> int:
    try:
        terminal.exit_on_interrupt()  # again: the console script imports this module, then calls main()
        from scanner.cli import command as cli  # noqa: PLC0415 - imported after the handler, so that it covers the import

        return cli.main()
    except KeyboardInterrupt:  # in the instant before the handler was installed
        terminal.err(terminal.INTERRUPTED)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
