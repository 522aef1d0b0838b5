#!/usr/bin/env python3
"""Writes hand-built seed inputs for fuzz_pgoutput into corpus/pgoutput/.

Each seed is a sequence of frames (2-byte big-endian length + one pgoutput
message), as the fuzz target reads them. Seeds captured from a real server
(hand-built ones cover what a test server rarely sends) are written by the
replication tests when PGSTREAM_CAPTURE_CORPUS names this directory.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pgoutput")


def s(text):
    return text.encode() + b"\0"


def tup(cols):
    out = struct.pack(">h", len(cols))
    for kind, value in cols:
        out += kind.encode()
        if kind in "tb":
            out += struct.pack(">i", len(value)) + value
    return out


def rel(oid, cols, xid=None, ri=b"d"):
    out = b"R" + (struct.pack(">I", xid) if xid is not None else b"")
    out += struct.pack(">I", oid) + s("public") + s("t") + ri + struct.pack(">h", len(cols))
    for flags, name, typ in cols:
        out += struct.pack(">B", flags) + s(name) + struct.pack(">Ii", typ, -1)
    return out


def ins(oid, cols, xid=None):
    return b"I" + (struct.pack(">I", xid) if xid is not None else b"") + struct.pack(">I", oid) + b"N" + tup(cols)


def frames(*messages):
    return b"".join(struct.pack(">H", len(m)) + m for m in messages)


BEGIN = b"B" + struct.pack(">QqI", 0x100, 1000, 7)
COMMIT = b"C" + struct.pack(">BQQq", 0, 0x100, 0x120, 1000)
COLS = [(1, "id", 23), (0, "v", 25)]
ROW = [("t", b"1"), ("t", b"hello")]

seeds = {
    "regular": frames(BEGIN, rel(16384, COLS), ins(16384, ROW),
                      b"U" + struct.pack(">I", 16384) + b"K" + tup([("t", b"1"), ("n", b"")]) + b"N" +
                      tup([("t", b"2"), ("u", b"")]),
                      b"D" + struct.pack(">I", 16384) + b"O" + tup(ROW),
                      b"T" + struct.pack(">iBI", 1, 3, 16384),
                      b"M" + struct.pack(">BQ", 1, 0x110) + s("pfx") + struct.pack(">i", 3) + b"abc",
                      b"O" + struct.pack(">Q", 0x100) + s("origin"),
                      b"Y" + struct.pack(">I", 16400) + s("public") + s("mood"),
                      COMMIT),
    "streamed": frames(b"S" + struct.pack(">IB", 500, 1), rel(16384, COLS, 500), ins(16384, ROW, 500),
                       ins(16384, ROW, 501), b"E", b"A" + struct.pack(">II", 500, 501),
                       b"S" + struct.pack(">IB", 500, 0), ins(16384, ROW, 500), b"E",
                       b"c" + struct.pack(">IBQQq", 500, 0, 0x200, 0x220, 1000)),
    "aborted": frames(b"S" + struct.pack(">IB", 600, 1), rel(16384, COLS, 600), ins(16384, ROW, 600), b"E",
                      b"A" + struct.pack(">II", 600, 600)),
    "message": frames(b"M" + struct.pack(">BQ", 0, 0x110) + s("hb") + struct.pack(">i", 2) + b"hi"),
    "binary": frames(BEGIN, rel(16384, [(1, "id", 23), (0, "b", 17)], ri=b"f"),
                     ins(16384, [("t", b"1"), ("b", b"\x00\x01\x02")]), COMMIT),
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, "hand-" + name), "wb") as f:
        f.write(data)
