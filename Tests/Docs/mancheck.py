#!/usr/bin/env python3
"""Coverage checks of the man pages against the programs (used by Tests/Docs/t-man.sh).

  mancheck.py cli PAGE CLI
      Every subcommand listed by `CLI --help`, and every option and argument of
      `CLI SUBCOMMAND --help`, appears in PAGE (mdoc source): the subcommand in the SYNOPSIS
      (`.Cm NAME`) and as a subsection `.Ss bridgekeeper NAME`; its options as `Fl --option`
      and its arguments as `Ar name` inside that subsection. The options every command has
      (-h/--help, --version) must be in the page's OPTIONS section.

  mancheck.py messages PAGE SWIFT...
      Every string literal in the Swift files (the helper's message texts) matches one line of
      the rendered PAGE, with each interpolation `\\(...)` standing for any text: so every
      message form the helper can print is written out in the page, on one line.

Prints one line per missing item and exits 1 when something is missing, 0 otherwise.
"""
import re
import subprocess
import sys

COMMON_OPTIONS = {"-h", "--help", "--version"}


def help_text(cli, *args):
    result = subprocess.run([cli, *args, "--help"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{cli} {' '.join(args)} --help exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def help_sections(text):
    """ArgumentParser's help: section title (OPTIONS, ARGUMENTS, SUBCOMMANDS) -> its entry lines."""
    sections, current = {}, None
    for line in text.splitlines():
        title = re.match(r"^([A-Z][A-Z ]+):\s*$", line)
        if title:
            current = sections.setdefault(title.group(1), [])
        elif current is not None and re.match(r"^  \S", line):
            current.append(line.strip())
    return sections


def options_and_arguments(text):
    sections = help_sections(text)
    options = set()
    for entry in sections.get("OPTIONS", []):
        # "-h, --help   Show help", "--acl <path>   The ACL..."
        names = re.match(r"^((?:-{1,2}[\w-]+)(?:, -{1,2}[\w-]+)*)", entry)
        if names:
            options.update(name.strip() for name in names.group(1).split(","))
    arguments = set()
    for entry in sections.get("ARGUMENTS", []):
        name = re.match(r"^<([\w-]+)>", entry)
        if name:
            arguments.add(name.group(1))
    return options, arguments


def page_sections(source):
    """The mdoc source with roff's \\- as '-': .Sh/.Ss title -> its text."""
    source = source.replace("\\-", "-")
    sections, title, lines = {}, None, []
    for line in source.splitlines():
        heading = re.match(r"^\.(Sh|Ss) (.*)$", line)
        if heading:
            if title is not None:
                sections[title] = "\n".join(lines)
            title, lines = heading.group(2).strip(), []
        else:
            lines.append(line)
    if title is not None:
        sections[title] = "\n".join(lines)
    return sections


def has_option(text, option):
    # mdoc's `Fl X` renders as -X: `--acl` is written `Fl \-acl`, `-h` is `Fl h`.
    return re.search(r"(^|\s)Fl " + re.escape(option[1:]) + r"(?![\w-])", text, re.M) is not None


def check_cli(page, cli):
    sections = page_sections(open(page, encoding="utf-8").read())
    missing = []
    root_options, _ = options_and_arguments(help_text(cli))
    # Entries are "name   abstract"; the closing "See 'bridgekeeper help <subcommand>'" is not one.
    subcommands = [entry.split()[0] for entry in help_sections(help_text(cli)).get("SUBCOMMANDS", [])
                   if re.match(r"^[a-z][\w-]*(\s{2,}|$)", entry)]
    if not subcommands:
        return [f"{cli} --help lists no subcommands (cannot check)"]
    synopsis = sections.get("SYNOPSIS", "")
    options_section = sections.get("OPTIONS", "")
    for option in sorted(root_options):
        if not has_option(options_section, option):
            missing.append(f"option {option} of bridgekeeper: not in OPTIONS")
    for name in subcommands:
        if not re.search(r"^\.Cm " + re.escape(name) + r"\b", synopsis, re.M):
            missing.append(f"subcommand {name}: not in the SYNOPSIS (.Cm {name})")
        body = sections.get(f"bridgekeeper {name}")
        if body is None:
            missing.append(f"subcommand {name}: no subsection '.Ss bridgekeeper {name}'")
            continue
        options, arguments = options_and_arguments(help_text(cli, name))
        for option in sorted(options):
            where = options_section if option in COMMON_OPTIONS else body
            if not has_option(where, option):
                missing.append(f"option {option} of bridgekeeper {name}: not in its subsection")
        for argument in sorted(arguments):
            if not re.search(r"(^|\s)Ar " + re.escape(argument) + r"\b", body, re.M):
                missing.append(f"argument <{argument}> of bridgekeeper {name}: not in its subsection (Ar {argument})")
    return missing


def swift_literals(text):
    """String literals of Swift source, as lists of fixed parts (interpolations split them).
    Handles nested literals inside interpolations and skips // comments."""
    literals, index = [], 0

    def literal(start):
        # text[start] is the opening quote; returns (parts, index after the closing quote)
        parts, current, i = [], "", start + 1
        while i < len(text):
            c = text[i]
            if c == "\\" and text[i + 1] == "(":
                parts.append(current)
                current, depth, i = "", 1, i + 2
                while depth:
                    if text[i] == '"':
                        _, i = literal(i)
                        continue
                    depth += {"(": 1, ")": -1}.get(text[i], 0)
                    i += 1
            elif c == "\\":
                current += {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(text[i + 1], text[i + 1])
                i += 2
            elif c == '"':
                parts.append(current)
                return parts, i + 1
            else:
                current += c
                i += 1
        raise ValueError("unterminated string literal")

    while index < len(text):
        if text.startswith("//", index):
            index = text.find("\n", index)
            index = len(text) if index < 0 else index
        elif text[index] == '"':
            if text.startswith('"""', index):
                raise ValueError("multi-line literals are not handled")
            parts, index = literal(index)
            literals.append(parts)
        else:
            index += 1
    return literals


def rendered_lines(page):
    """The page as mandoc renders it on a 1000-column terminal: each paragraph and each list
    tag on one line, blanks collapsed."""
    out = subprocess.run(["mandoc", "-T", "ascii", "-O", "width=1000", page], capture_output=True, text=True, check=True).stdout
    out = re.sub(r".\x08", "", out)  # overstrike (bold, underline)
    return [re.sub(r"\s+", " ", line).strip() for line in out.splitlines() if line.strip()]


def matches(parts, line):
    """Whether `line` holds the fixed parts in order, each interpolation between them standing
    for at least one character. Taking the earliest occurrence of each part in turn finds a
    match whenever there is one (no regular expression: nested lazy wildcards backtrack
    exponentially on a miss)."""
    position = 0
    for index, part in enumerate(parts):
        if index > 0:
            position += 1  # the interpolation before this part: at least one character
        if part == "":
            continue
        found = line.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return position <= len(line)


def check_messages(page, sources):
    lines = rendered_lines(page)
    missing = []
    for source in sources:
        for parts in swift_literals(open(source, encoding="utf-8").read()):
            if not re.search(r"[A-Za-z]{3}", "".join(parts)):
                continue  # punctuation or a separator, not a message form
            parts = [re.sub(r"\s+", " ", part) for part in parts]
            if not any(matches(parts, line) for line in lines):
                shown = "...".join(parts)
                missing.append(f"{source}: message form not in {page}: \"{shown}\"")
    return missing


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "cli":
        missing = check_cli(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "messages":
        missing = check_messages(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
    for line in missing:
        print(line)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
