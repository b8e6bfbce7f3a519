#!/usr/bin/env python3
"""Regenerates Tests/Fuzz/seeds/<target>/ from the unit-test tables.

Run by hand after changing the tables (the seeds are committed, so `make test` and CI need no
Python): python3 Tests/Fuzz/make-seeds.py. It extracts the single-line string literals of
GrammarCase, DecisionCase, StockCase, MemoryACLTree and ParseCase/badFD entries, converts them to
each target's input format (see the target sources), and adds a few hand-written cases for the
table entries built from byte arrays or loops. Old seeds are removed first.
"""
import hashlib
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTS = ROOT / "Tests"
SEEDS = ROOT / "Tests" / "Fuzz" / "seeds"
TOP = "/etc/qemu/bridge.conf"
LIT = r'"((?:[^"\\\n]|\\.)*)"'
QUOTED = r'"(?:[^"\\\n]|\\.)*"'  # the same, without a group
SEP = b"\x1e"
# Loader config byte: depth limit 16 (bits 0-1 = 3), file limit 32 (bits 2-3 = 3).
FULL_LIMITS = 0x0F


class Interpolation(Exception):
    pass


def swift_string(body):
    """The bytes of a Swift string literal's body (escapes decoded, UTF-8)."""
    out = bytearray()
    i = 0
    simple = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n in simple:
            out += simple[n]
            i += 2
        elif n == "u":
            m = re.match(r"\{([0-9a-fA-F]+)\}", body[i + 2:])
            out += chr(int(m.group(1), 16)).encode()
            i += 2 + m.end()
        else:
            raise Interpolation(body)
    return bytes(out)


def literal(body):
    try:
        return swift_string(body)
    except Interpolation:
        return None


def slug(label):
    s = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return s[:48] or "case"


class Seeds:
    def __init__(self, target):
        self.dir = SEEDS / target
        self.seen = set()

    def add(self, label, data):
        if data is None or data in self.seen:
            return
        self.seen.add(data)
        name = f"{slug(label)}-{hashlib.sha1(data).hexdigest()[:8]}"
        (self.dir / name).write_bytes(data)


def read(rel):
    return (TESTS / rel).read_text()


def tree_input(files, config=FULL_LIMITS):
    """files: list of (path, kind, payload); kind 'text' (bytes), 'refused' or ('link', path).
    The top-level path must come first. Returns the acl-loader input or None (too many files)."""
    if len(files) > 8:
        return None
    index = {path: i for i, (path, _, _) in enumerate(files)}
    names = {path: ("/etc/qemu/bridge.conf" if i == 0 else f"/etc/qemu/f{i}.conf") for path, i in index.items()}

    def rename(text):
        return re.sub(rb"(?<=include)([ \t]+)(/\S*)",
                      lambda m: m.group(1) + names.get(m.group(2).decode("latin-1"), m.group(2).decode("latin-1")).encode("latin-1"),
                      text)

    chunks = []
    for path, kind, payload in files:
        if kind == "text":
            chunks.append(b"\x00" + rename(payload))
        elif kind == "refused":
            chunks.append(b"\x03")
        else:  # link: the same identity (and contents) as another file
            target = index[payload]
            content = next(p for q, k, p in files if q == payload)
            chunks.append(bytes([0x20 | (target << 2)]) + rename(content))
    data = bytes([config]) + SEP.join(chunks)
    return data if SEP not in b"".join(c[1:] for c in chunks) else None


def argv_input(argv):
    return b"".join(a + b"\0" for a in argv)


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    parser, loader, args = Seeds("acl-parser"), Seeds("acl-loader"), Seeds("helper-args")
    for s in (parser, loader, args):
        s.dir.mkdir(parents=True)

    # acl-parser: every ACL text in the tables, and the sample files.
    grammar = read("BridgeACLTests/GrammarTests.swift")
    for label, body in re.findall(r"GrammarCase\(" + LIT + r",\s*" + LIT, grammar):
        parser.add("grammar-" + label, literal(body))
    decisions = read("BridgeACLTests/DecisionTests.swift")
    for body in re.findall(r"DecisionCase\(" + LIT, decisions):
        text = literal(body)
        parser.add("decision", text)
        if text is not None:
            loader.add("decision", tree_input([(TOP, "text", text)]))
    for sample in sorted((ROOT / "acl").glob("*.conf")):
        parser.add("sample-" + sample.stem, sample.read_bytes())
    hand = {
        "non-utf8-name": b"allow \xff\n",
        "nbsp-in-name": b"allow br\xa00\n",
        "c1-csi-name": b"deny b\xc2\x9br\n",
        "nul-after-rule": b"allow br0\x00\n",
        "nul-on-line-3": b"allow br0\n# ok\nallow br\x001\n",
        "nul-in-comment": b"# a comment\x00 allow all\n",
        "esc-keyword": b"\x1b[2Jallow br0\n",
        "comment-hiding-rule-at-4095": b"#" + b"x" * 4094 + b"allow all\ndeny br0\n",
        "long-name": b"deny " + b"n" * 300 + b"\n",
        "long-keyword": b"k" * 100 + b" br0\n",
        "spaces-inside": b"allow" + b" " * 3000 + b"br0\n",
        "cr-inside-name": b"allow br\r0\n",
        "vt-ff-around": b"\x0b\x0callow\t\x0bbr0\x0c\r\n",
        "dot-names": b"allow .\nallow ..\nallow ...\n",
    }
    for label, data in hand.items():
        parser.add(label, data)

    # acl-loader: the stock differential corpus and the loader tests' trees.
    stock = read("BridgeACLTests/StockCorpus.swift")
    for m in re.finditer(r"StockCase\(" + LIT + r",\s*" + LIT + r"(.*?)allowed:", stock, re.S):
        label, top, rest = m.group(1), literal(m.group(2)), m.group(3)
        files = [(TOP, "text", top)]
        for path, body in re.findall(LIT + r"\s*:\s*" + LIT, rest):
            files.append((literal(path).decode(), "text", literal(body)))
        parser.add("stock-" + label, top)
        loader.add("stock-" + label, tree_input(files))

    loader_tests = read("BridgeACLTests/PolicyLoaderTests.swift")
    for block in re.split(r"@Test func ", loader_tests)[1:]:
        label = block.split("(")[0]
        m = re.search(r"MemoryACLTree\(\[(.*?)\]\)", block, re.S)
        files = []
        if m:
            for key, body in re.findall(r"(topLevelPath|" + QUOTED + r")\s*:\s*" + LIT, m.group(1)):
                path = TOP if key == "topLevelPath" else literal(key[1:-1]).decode()
                files.append((path, "text", literal(body)))
                parser.add("loader-" + label, literal(body))
        for path, reason in re.findall(r"\.refuse\((topLevelPath|" + QUOTED + r"),\s*" + LIT, block):
            files.append((TOP if path == "topLevelPath" else literal(path[1:-1]).decode(), "refused", None))
        for path, target in re.findall(r"\.link\(" + LIT + r",\s*to:\s*" + LIT, block):
            files.append((literal(path).decode(), "link", literal(target).decode()))
        files.sort(key=lambda f: f[0] != TOP)
        if files and files[0][0] == TOP:
            loader.add("loader-" + label, tree_input(files))
            loader.add("loader-small-limits-" + label, tree_input(files, config=0x05))

    # Trees the tests build in loops: a chain through all eight files, an include bomb, and
    # cycles through a second path to the same file.
    chain = [(TOP if i == 0 else f"/etc/qemu/f{i}.conf", "text",
              (f"include /etc/qemu/f{i + 1}.conf\n" if i < 7 else "").encode() + f"allow l{i}\n".encode())
             for i in range(8)]
    for config in (FULL_LIMITS, 0x0E, 0x0D, 0x0B):
        loader.add("chain-of-8", tree_input(chain, config))
    bomb = [(TOP if i == 0 else f"/etc/qemu/f{i}.conf", "text",
             (f"include /etc/qemu/f{i + 1}.conf\n" * 2 if i < 7 else "allow br0\n").encode())
            for i in range(8)]
    loader.add("include-bomb", tree_input(bomb))
    loader.add("alias-cycle", bytes([FULL_LIMITS]) + b"\x00allow br0\ninclude /etc/qemu/f1.conf\n"
               + SEP + b"\x00deny br1\ninclude /etc/qemu/f2.conf\n" + SEP + b"\x24include /etc/qemu/f3.conf\n"
               + SEP + b"\x02")
    loader.add("unavailable-and-refused", bytes([FULL_LIMITS]) + b"\x00allow all\ninclude /etc/qemu/f1.conf\n"
               b"include /etc/qemu/f2.conf\ndeny br0\n" + SEP + b"\x02deny all\n" + SEP + b"\x03")

    # helper-args: argv tables (program name first, NUL-terminated elements).
    program = b"/usr/lib/qemu/bridgekeeper-helper"
    commands = read("BridgeHelperTests/CommandLineTests.swift")
    for label, body in re.findall(r"ParseCase\(" + LIT + r",\s*\[([^\]]*)\]", commands):
        options = [literal(b) for b in re.findall(LIT, body)]
        if None not in options:
            args.add(label, argv_input([program] + options))
    for value in re.findall(r"badFD\(" + LIT + r"\)", commands):
        v = literal(value)
        if v is not None:
            args.add("bad-fd", argv_input([program, b"--br=br0", b"--fd=" + v]))
    for value in re.findall(r"\(bytes\(" + LIT + r"\)", commands):
        v = literal(value)
        if v is not None:
            args.add("bad-fd-message", argv_input([program, b"--br=br0", b"--fd=" + v]))
    args.add("argc-0", b"")
    args.add("empty-program-name", b"\0")
    args.add("empty-program-name-with-options", argv_input([b"", b"--br=br0", b"--fd=3"]))
    args.add("non-utf8-program", argv_input([b"\xff\n", b"--br=br0", b"--fd=3"]))
    args.add("non-utf8-bridge", argv_input([program, b"--br=\xff", b"--fd=3"]))
    args.add("esc-fd", argv_input([program, b"--br=br0", b"--fd=3\n\x1b[2J'"]))
    args.add("c1-fd", argv_input([program, b"--br=br0", b"--fd=\xc2\x9bresult=allow"]))
    args.add("nbsp-bridge", argv_input([program, b"--br=br\xa00", b"--fd=3"]))
    args.add("64-arguments", argv_input([program] + [b"--use-vnet"] * 62 + [b"--br=br0", b"--fd=3"]))
    args.add("65-arguments", argv_input([program] + [b"--use-vnet"] * 63 + [b"--br=br0", b"--fd=3"]))
    args.add("8192-byte-argument", argv_input([program, b"--br=" + b"x" * 8187, b"--fd=3"]))
    args.add("8193-byte-argument", argv_input([program, b"--br=" + b"x" * 8188, b"--fd=3"]))
    args.add("long-fd-zeros", argv_input([program, b"--br=br0", b"--fd=" + b"0" * 8000 + b"7"]))

    for s in (parser, loader, args):
        print(f"{s.dir.relative_to(ROOT)}: {len(s.seen)} seeds")


main()
