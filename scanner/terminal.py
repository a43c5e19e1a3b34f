"""Everything the command prints goes through here: the one place that writes to stdout and stderr.

Text from outside the program (AWS answers, tar member names, results fields, YAML and JSON keys, file
names) must never steer the terminal. An ESC starts cursor movement, colour, OSC window titles and
hyperlinks; a CR or a backspace overwrites what was printed; bidi overrides reorder a line so that it
reads differently from its bytes. Any of them could hide `NOT VERIFIED` or forge a signer line.

Two layers, because a composed line cannot tell its data from its own text:

- `escape(value)` is for one data value where a line is composed. Every control character (C0, DEL,
  C1), every format character (bidi overrides and isolates, LRM/RLM, ALM, zero-width characters), line
  and paragraph separators and lone surrogates become a visible escape (`\\x1b`, `\\u202e`), the newline
  included, and the backslash itself is doubled: distinct values stay distinct on the screen, and a value
  cannot start a line of its own. `excerpt` does the same and cuts a long value with a marker.
- `write` is the sink. It keeps the newlines the program composed and escapes every other unsafe
  character line by line (without doubling backslashes, which escaped values already carry). So even a
  value a caller forgot to escape cannot emit an ESC, BEL or bidi character; at worst it adds a line.
  Colour (a fixed set of SGR codes the table uses) and a leading carriage return (progress on a terminal)
  are let through only when the caller asks for them.

Messages composed elsewhere (error messages) are printed with `line`: one line, every unsafe character
escaped (newlines too), backslashes kept as they are, cut at MAX_LINE characters.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import unicodedata
from typing import IO

# Categories that never belong on a terminal as they are: controls, format characters (bidi, zero width,
# soft hyphen), line/paragraph separators, surrogates (unencodable), private use is harmless and kept.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
MAX_EXCERPT = 80
MAX_LINE = 1000
TRUNCATED = "…"

# The only escape sequences the program itself writes: the table's colours. None of them hides text.
SGR_CODES = ("\033[31m", "\033[35m", "\033[32m", "\033[36m", "\033[2m", "\033[1m", "\033[0m")
_SGR = re.compile("|".join(re.escape(code) for code in SGR_CODES))


def is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(value: object) -> str:
    """One data value, safe and unambiguous on a terminal (see the module's docstring)."""
    return "".join(
        "\\\\" if char == "\\" else _visible(char) if is_unsafe(char) else char for char in str(value)
    )


def excerpt(value: object, limit: int = MAX_EXCERPT) -> str:
    """`escape(value)`, cut after `limit` characters of escaped text with a marker saying how much is left."""
    text = str(value)
    pieces: list[str] = []
    length = 0
    for index, char in enumerate(text):
        piece = "\\\\" if char == "\\" else _visible(char) if is_unsafe(char) else char
        if length + len(piece) > limit:
            return "".join(pieces) + f"{TRUNCATED}[{len(text) - index} more characters]"
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def _safe(text: str) -> str:
    return "".join(_visible(char) if is_unsafe(char) else char for char in text)


def _cut(text: str, limit: int = MAX_LINE) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"{TRUNCATED}[{len(text) - limit} more characters]"


def line(text: object) -> str:
    """A message composed elsewhere as one line: every unsafe character escaped, newlines included."""
    return _cut(_safe(str(text)))


def _safe_lines(text: str, colour: bool) -> str:
    def one(part: str) -> str:
        if not colour:
            return _cut(_safe(part))
        # Keep the allowed colour codes, escape everything between them.
        pieces, last = [], 0
        for match in _SGR.finditer(part):
            pieces.append(_safe(part[last : match.start()]))
            pieces.append(match.group())
            last = match.end()
        pieces.append(_safe(part[last:]))
        return "".join(pieces)

    return "\n".join(one(part) for part in text.split("\n"))


def silence(stream: IO[str]) -> None:
    """Point a stream whose reader went away at /dev/null, so that later writes (and the interpreter's
    flush at exit) do not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def write(stream: IO[str], text: str, *, colour: bool = False, rewrite: bool = False) -> None:
    """Write composed text: newlines kept, every other unsafe character escaped, long lines cut.

    `colour` lets the table's SGR codes through; `rewrite` starts with a carriage return (progress that
    overwrites itself on a terminal). A reader that went away raises BrokenPipeError to the caller."""
    stream.write(("\r" if rewrite else "") + _safe_lines(text, colour))
    stream.flush()


def say(stream: IO[str], text: str, *, colour: bool = False, rewrite: bool = False) -> None:
    """Write what a person reads beside a scan (progress, the summary table). If the reader went away
    (`artifact-scan scan | head`), the scan still finishes, writes its reports and exits with its verdict."""
    try:
        write(stream, text, colour=colour, rewrite=rewrite)
    except BrokenPipeError:
        silence(stream)


def out(text: str) -> None:
    """A line (or lines) of the command's output, on stdout."""
    write(sys.stdout, text if text.endswith("\n") else text + "\n")


def err(text: str) -> None:
    """A line (or lines) of diagnostics, on stderr; a reader that went away is not an error here."""
    say(sys.stderr, text if text.endswith("\n") else text + "\n")


def document(data: bytes) -> None:
    """A whole report on stdout (`--out -`), for the next command of a pipeline: its bytes as written to the
    run folder. On a terminal it is shown escaped like any other text, since a report quotes AWS values."""
    if sys.stdout.isatty():
        write(sys.stdout, data.decode("utf-8", errors="replace"))
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


INTERRUPTED = "error: interrupted"


def exit_interrupted(signum: int, frame: object) -> None:
    """SIGINT while the command starts up (imports, arguments): one line and exit 130 at once, whatever
    was being imported. Nothing has been written yet, so there is nothing to clean up; a raw write, so that
    a second signal cannot interrupt the report of the first."""
    os.write(2, (INTERRUPTED + "\n").encode())
    os._exit(130)


def exit_on_interrupt() -> None:
    """Installed first thing by the entry point; scanner.cli hands SIGINT back to Python's default
    (KeyboardInterrupt) when a command starts its work."""
    signal.signal(signal.SIGINT, exit_interrupted)
