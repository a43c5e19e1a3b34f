"""The canonical tar: the same members always give the same bytes, and every byte of an archive can be
named (which header field, content or padding of which member) when it differs from the canonical one.

Regular files only, sorted by name, USTAR headers with mode 0644, uid/gid 0, empty owner names, one mtime
for every member, two zero blocks at the end and nothing after them. Reading (walk) follows the headers as
a tar reader would but tolerates damaged checksums, so that the damage can be named rather than refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.errors import EvidenceError

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
END_OF_ARCHIVE = bytes(2 * BLOCK)
# USTAR header fields: name, start, end.
HEADER_FIELDS = (
    ("name", 0, 100),
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("size", 124, 136),
    ("mtime", 136, 148),
    ("chksum", 148, 156),
    ("typeflag", 156, 157),
    ("linkname", 157, 257),
    ("magic", 257, 263),
    ("version", 263, 265),
    ("uname", 265, 297),
    ("gname", 297, 329),
    ("devmajor", 329, 337),
    ("devminor", 337, 345),
    ("prefix", 345, 500),
    ("pad", 500, 512),
)


@dataclass(frozen=True)
class Region:
    start: int
    end: int
    label: str


def _split_name(name: str) -> tuple[bytes, bytes]:
    """USTAR's prefix/name split: the name field holds at most 100 bytes, the prefix 155."""
    raw = name.encode("utf-8")
    if len(raw) <= 100:
        return b"", raw
    for i in range(min(len(raw) - 2, 155), 0, -1):
        if raw[i] == ord("/") and len(raw) - i - 1 <= 100:
            return raw[:i], raw[i + 1 :]
    raise EvidenceError(f"{name}: the path is too long for a tar header (USTAR: 100 + 155 bytes)")


def _header(name: str, size: int, mtime: int) -> bytes:
    prefix, base = _split_name(name)
    header = bytearray(BLOCK)
    header[0 : len(base)] = base
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"%011o\0" % mtime
    header[148:156] = b" " * 8
    header[156:157] = b"0"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[329:337] = b"0000000\0"
    header[337:345] = b"0000000\0"
    header[345 : 345 + len(prefix)] = prefix
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def padding(size: int) -> int:
    return -size % BLOCK


def canonical_tar(members: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    """The canonical archive of `members` (sorted by name here); see this module's docstring."""
    return archive(members, mtime, top=None)[0]


def archive(members: Sequence[tuple[str, bytes]], mtime: int, top: str | None) -> tuple[bytes, list[Region]]:
    if not 0 <= mtime < 8**11:
        mtime = 0
    if any(len(data) >= 8**11 for _, data in members):
        raise EvidenceError("a file is too large for a tar header (8 GiB)")
    chunks: list[bytes] = []
    regions: list[Region] = []
    offset = 0
    for name, data in sorted(members, key=lambda m: m[0]):
        shown = relative(name, top)
        header = _header(name, len(data), mtime)
        for field_name, start, end in HEADER_FIELDS:
            regions.append(Region(offset + start, offset + end, f"tar header of {shown}, field {field_name}"))
        offset += BLOCK
        regions.append(Region(offset, offset + len(data), f"content of {shown}"))
        offset += len(data)
        pad = padding(len(data))
        regions.append(Region(offset, offset + pad, f"padding after {shown}"))
        offset += pad
        chunks += [header, data, bytes(pad)]
    regions.append(Region(offset, offset + len(END_OF_ARCHIVE), "end-of-archive blocks"))
    chunks.append(END_OF_ARCHIVE)
    return b"".join(chunks), regions


def relative(name: str, top: str | None) -> str:
    if top is not None and name.startswith(top + "/"):
        return name[len(top) + 1 :]
    return name


def _octal(field_bytes: bytes) -> int | None:
    text = field_bytes.split(b"\0", 1)[0].strip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        return None
    return int(text, 8)


def _checksum_ok(block: bytes) -> bool:
    stored = _octal(block[148:156])
    return stored is not None and stored == sum(block[:148]) + 8 * 32 + sum(block[156:])


def _field(block: bytes, start: int, end: int) -> bytes:
    return block[start:end].split(b"\0", 1)[0]


def _name_of(block: bytes) -> str:
    prefix, base = _field(block, 345, 500), _field(block, 0, 100)
    raw = prefix + b"/" + base if prefix else base
    return raw.decode("utf-8", "backslashreplace")


def looks_like_header(block: bytes) -> bool:
    """A header with at most one damaged byte still passes one of these; random data passes none."""
    if _checksum_ok(block) or block[257:263] in (b"ustar\0", b"ustar "):
        return True
    name = _field(block, 0, 100)
    return (
        bool(name)
        and name.isascii()
        and all(32 <= c < 127 for c in name)
        and _octal(block[124:136]) is not None
    )


@dataclass(frozen=True)
class Member:
    name: str
    typeflag: bytes
    offset: int  # of the header
    content: bytes
    checksum_ok: bool


@dataclass(frozen=True)
class Walk:
    members: tuple[Member, ...]
    problem: str | None  # why the walk stopped before a clean end-of-archive block
    truncated: bool  # the file ended inside a header, a member's content or the end-of-archive blocks


def walk(data: bytes) -> Walk:
    """Follow the headers as a tar reader would, tolerating damaged checksums so the damage can be named."""
    members: list[Member] = []
    offset = 0
    while True:
        if offset + BLOCK > len(data):
            return Walk(
                tuple(members), f"the file ends at offset {len(data)} with no end-of-archive block", True
            )
        block = data[offset : offset + BLOCK]
        if block == _ZERO_BLOCK:
            if len(data) < offset + len(END_OF_ARCHIVE):
                return Walk(
                    tuple(members),
                    f"the file ends at offset {len(data)}, inside the end-of-archive blocks",
                    True,
                )
            return Walk(tuple(members), None, False)
        if not looks_like_header(block):
            return Walk(
                tuple(members), f"offset {offset}: neither a tar header nor the end of the archive", False
            )
        size = _octal(block[124:136])
        if size is None:
            return Walk(tuple(members), f"offset {offset}: the tar header's size field is unreadable", False)
        start = offset + BLOCK
        if start + size > len(data):
            return Walk(
                tuple(members),
                f"offset {offset}: member {_name_of(block)!r} runs past the end of the file",
                True,
            )
        members.append(
            Member(_name_of(block), block[156:157], offset, data[start : start + size], _checksum_ok(block))
        )
        offset = start + size + padding(size)


def guided(
    data: bytes, order: Sequence[str], sizes: Mapping[str, int], mtime: int
) -> dict[str, bytes] | None:
    """Read the members at the offsets the manifest implies. Used when a header is damaged: a damaged
    name or size field must not hide where the members are, so the damage is named by its offset."""
    contents: dict[str, bytes] = {}
    offset = 0
    for name in order:
        size = sizes[name]
        block = data[offset : offset + BLOCK]
        if len(block) < BLOCK or offset + BLOCK + size > len(data):
            return None
        expected = _header(name, size, mtime)
        damaged = sum(1 for i in range(BLOCK) if not 148 <= i < 156 and block[i] != expected[i])
        if damaged > 16:
            return None
        contents[name] = data[offset + BLOCK : offset + BLOCK + size]
        offset += BLOCK + size + padding(size)
    return contents


def differences(actual: bytes, expected: bytes, limit: int = 20) -> list[tuple[int, int]]:
    """Ranges [start, end) where the two differ, in order, at most `limit` of them."""
    ranges: list[tuple[int, int]] = []
    common = min(len(actual), len(expected))
    step = 1 << 16
    for chunk in range(0, common, step):
        end = min(chunk + step, common)
        if actual[chunk:end] == expected[chunk:end]:
            continue
        for i in range(chunk, end):
            if actual[i] == expected[i]:
                continue
            if ranges and ranges[-1][1] == i:
                ranges[-1] = (ranges[-1][0], i + 1)
            elif len(ranges) >= limit:
                return ranges
            else:
                ranges.append((i, i + 1))
    return ranges


def describe(start: int, end: int, regions: Sequence[Region]) -> str:
    where = f"offset {start}" if end - start == 1 else f"offsets {start}-{end - 1}"
    labels = [r.label for r in regions if r.start < end and start < r.end]
    return f"{where}: {', '.join(dict.fromkeys(labels)) or 'outside the archive'}"
