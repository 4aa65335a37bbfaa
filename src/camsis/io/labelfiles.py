"""Value-label sets from the files researchers keep code frames in.

A code frame usually lives as value labels: Stata `label define` commands in a do-file,
SPSS `value labels` commands in a syntax file, or the value labels stored in a labelled
.dta/.sav. `read_label_sets(path)` returns every label set of such a file as
{set name: {code text: label}}, the code text exactly as written ("0110" stays "0110",
since a code frame's width matters for its hierarchy: see camsis.classifications.codeframe).

Only what a code frame needs is interpreted; other commands are skipped. The parsers
are small hand-written lexers rather than regular expressions over the whole file
because Stata's comment rules depend on the command delimiter (`#delimit ;` lets a
label span lines and a `*` comment run to the next semicolon) and both languages allow
the comment and terminator characters inside quoted labels.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyreadstat

from camsis.errors import CamsisError
from camsis.io.ipums import codebook_variable_labels, label_sets

SYNTAX_SUFFIXES = {".do": "stata", ".ado": "stata", ".sps": "spss"}
DATA_SUFFIXES = (".dta", ".sav", ".zsav")


def read_label_sets(path: str | Path, repeated: dict[str, list[str]] | None = None) -> dict[str, dict[str, str]]:
    """Label sets of a do-file, SPSS syntax file or labelled .dta/.sav.

    For data files each set is reachable both by its own name and by the name of every
    variable it is attached to, so `--units isco08` works as well as `--units isco08_label`.
    `repeated`, if given, receives {set name: codes labelled twice in one command} (the
    last label is kept, as Stata and SPSS do): the caller warns about them.
    """
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in DATA_SUFFIXES:
        return _data_label_sets(path)
    if suffix == ".xml":  # an IPUMS extract's DDI codebook: each variable's categories
        return label_sets(path)
    if suffix not in SYNTAX_SUFFIXES:
        raise CamsisError(f"{path}: cannot read value labels from a {suffix or 'suffix-less'} file "
                          f"(use a Stata .do, an SPSS .sps, a labelled .dta/.sav, or an IPUMS codebook .xml)")
    text = decode(path.read_bytes())
    parse = parse_stata if SYNTAX_SUFFIXES[suffix] == "stata" else parse_spss
    try:
        return parse(text, repeated)
    except CamsisError as error:
        raise CamsisError(f"{path}: {error}") from None


def decode(raw: bytes) -> str:
    """UTF-8 if it is, else Windows-1252: label files predate Unicode (curly quotes as 0x93)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- Stata ---------------------------------------------------------------------------

_LABEL_DEFINE = re.compile(
    r"^(?:(?:cap(?:t|tu|tur|ture)?|qui(?:e|et|etl|etly)?|n(?:o|oi|ois|oisi|oisil|oisily)?)\s*:?\s+)*"
    r"la(?:b|be|bel)?\s+(de(?:f|fi|fin|fine)?|drop)\s+(.*)$",
    re.S,
)


def stata_commands(text: str) -> list[str]:
    """Split a do-file into commands with comments removed and `///` lines joined.

    Honours `#delimit ;` / `#delimit cr`, `/* */` (nested), `//` and `///` (at the start
    of a line or after a blank), `*` at the start of a command (to the end of the line,
    or to the next `;` under `#delimit ;`), and leaves "..." and compound `"..."' strings
    untouched, so a `;` or `//` inside a label stays in the label.
    """
    commands: list[str] = []
    buffer: list[str] = []
    semicolon = False
    i, n = 0, len(text)

    def finish():
        command = "".join(buffer).strip()
        if command:
            commands.append(command)
        buffer.clear()

    def after_blank(pos: int) -> bool:
        return pos == 0 or text[pos - 1] in " \t\n"

    while i < n:
        ch = text[i]
        at_start = not buffer
        if at_start and ch in " \t\n" and (semicolon or ch != "\n"):
            i += 1
            continue
        if at_start and ch == "*":
            end = text.find(";" if semicolon else "\n", i)
            i = n if end < 0 else end + 1
            continue
        if at_start and text.startswith("#d", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            delimit = re.match(r"#d(?:e|el|eli|elim|elimi|elimit)?(?=[\s;]|$)\s*(\S*)", text[i:end])
            if delimit:  # `#delimit;` without a space is Stata too
                semicolon = delimit.group(1).startswith(";")
                i = end + 1
                buffer.clear()
                continue
        if text.startswith("/*", i):
            i = _skip_nested(text, i, "/*", "*/", "/* comment")
            if buffer:
                buffer.append(" ")
            continue
        if text.startswith("//", i) and after_blank(i):
            end = text.find("\n", i)
            if text.startswith("///", i):  # continuation: the next line joins this command
                i = n if end < 0 else end + 1
                if buffer:
                    buffer.append(" ")
            else:
                i = n if end < 0 else end
            continue
        if text.startswith('`"', i):
            end = _skip_nested(text, i, '`"', "\"'", "compound quote `\"")
            buffer.append(text[i:end])
            i = end
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0 or (not semicolon and "\n" in text[i:end]):
                raise CamsisError(f"line {text.count(chr(10), 0, i) + 1}: unterminated quoted label")
            buffer.append(text[i:end + 1])
            i = end + 1
            continue
        if (ch == ";" and semicolon) or (ch == "\n" and not semicolon):
            finish()
            i += 1
            continue
        if buffer or ch not in " \t\n":
            buffer.append(" " if ch == "\n" else ch)
        i += 1
    finish()
    return commands


def _skip_nested(text: str, i: int, opening: str, closing: str, what: str) -> int:
    """Index just past the `closing` that matches the `opening` at i (Stata nests both
    `/* */` comments and compound quotes)."""
    depth, j = 0, i
    while j < len(text):
        if text.startswith(opening, j):
            depth += 1
            j += len(opening)
        elif text.startswith(closing, j):
            depth -= 1
            j += len(closing)
            if depth == 0:
                return j
        else:
            j += 1
    raise CamsisError(f"line {text.count(chr(10), 0, i) + 1}: {what} never closed")


def parse_stata(text: str, repeated: dict[str, list[str]] | None = None) -> dict[str, dict[str, str]]:
    """Label sets defined by `label define` (with `, add`, `, modify`, `, replace`) and `label drop`.

    A code labelled twice in one command keeps its last label and is listed in `repeated`.
    """
    sets: dict[str, dict[str, str]] = {}
    for command in stata_commands(text):
        match = _LABEL_DEFINE.match(command)
        if not match:
            continue
        verb, rest = match.groups()
        if verb == "drop":
            for name in rest.split():
                if name == "_all":
                    sets.clear()
                sets.pop(name, None)
            continue
        body, options = _split_options(rest)
        name, _, pairs_text = body.strip().partition(" ")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise CamsisError(f"label define: '{name}' is not a label name")
        pairs = _stata_pairs(pairs_text, name)
        _note_repeats(name, [code for code, _ in pairs], repeated)
        add = any(o.startswith("add") for o in options)
        modify = any(o.startswith("modify") for o in options)
        replace = any(o.startswith("replace") for o in options)
        if name in sets and not (add or modify or replace):
            raise CamsisError(f"label define {name}: defined again without , add, modify or replace")
        current = {} if replace or name not in sets else sets[name]
        for code, label in pairs:
            if add and not modify and code in current:
                raise CamsisError(f"label define {name}, add: code {code} is already labelled "
                                  f"('{current[code]}'); use , modify to change it")
            current[code] = label
        sets[name] = current
    return sets


def _note_repeats(name: str, codes: list[str], repeated: dict[str, list[str]] | None) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen and repeated is not None and code not in repeated.setdefault(name, []):
            repeated[name].append(code)
        seen.add(code)


def _split_options(rest: str) -> tuple[str, list[str]]:
    """The part before a comma outside quotes, and the option words after it."""
    in_quote = False
    for pos, ch in enumerate(rest):
        if ch == '"':
            in_quote = not in_quote
        elif ch == "," and not in_quote:
            return rest[:pos], [w.lower() for w in rest[pos + 1:].split()]
    return rest, []


_STATA_TOKEN = re.compile(r'\s*(?:`"(.*?)"\'|"([^"]*)"|(\S+))', re.S)


def _stata_pairs(text: str, name: str) -> list[tuple[str, str]]:
    tokens = [(m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(3),
               m.group(3) is None) for m in _STATA_TOKEN.finditer(text) if m.group(0).strip()]
    if len(tokens) % 2:
        raise CamsisError(f"label define {name}: code '{tokens[-1][0]}' has no label")
    pairs = []
    for (code, quoted), (label, _) in zip(tokens[::2], tokens[1::2]):
        if quoted:
            raise CamsisError(f"label define {name}: expected a code, found the label \"{code}\"")
        pairs.append((code, label))
    return pairs


# --- SPSS ----------------------------------------------------------------------------

_VALUE_LABELS = re.compile(r"^(add\s+)?val(?:u|ue)?\s+lab(?:e|el|els)?\b(.*)$", re.I | re.S)
_DEFINE = re.compile(r"^define\s+(!?[A-Za-z_@#$][\w.@#$]*)", re.I)


def spss_commands(text: str) -> list[str]:
    """Commands of a syntax file: each ends with a period at the end of a line (outside
    quotes); `*` and COMMENT commands and `/* */` comments are removed. `!ENDDEFINE`
    is kept as its own command so macro bodies can be told apart."""
    commands: list[str] = []
    buffer: list[str] = []
    i, n = 0, len(text)
    quote = ""
    comment = False

    def finish():
        command = "".join(buffer).strip()
        buffer.clear()
        if command and not comment and not re.match(r"comment\b", command, re.I):
            commands.append(command)

    while i < n:
        ch = text[i]
        if not buffer and ch in " \t\n":
            i += 1
            continue
        if not buffer:
            comment = ch == "*"
        if quote:
            buffer.append(ch)
            if ch == quote:
                if text.startswith(quote, i + 1):  # doubled quote inside a string
                    buffer.append(quote)
                    i += 1
                else:
                    quote = ""
            elif ch == "\n":
                raise CamsisError(f"line {text.count(chr(10), 0, i)}: unterminated quoted label")
            i += 1
            continue
        if ch in "'\"" and not comment:
            quote = ch
            buffer.append(ch)
            i += 1
            continue
        if text.startswith("/*", i) and not comment:
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            buffer.append(" ")
            continue
        if text[i:i + 10].lower() == "!enddefine":
            finish()
            commands.append("!ENDDEFINE")
            i += 10
            if text.startswith(".", i):
                i += 1
            continue
        if ch == "." and re.match(r"[ \t]*(\n|$)", text[i + 1:i + 200]):
            finish()
            i += 1
            continue
        buffer.append(" " if ch == "\n" else ch)
        i += 1
    finish()
    return commands


def parse_spss(text: str, repeated: dict[str, list[str]] | None = None) -> dict[str, dict[str, str]]:
    """Label sets of `value labels` / `add value labels` commands.

    A command inside `DEFINE name ... !ENDDEFINE` whose variable list is a macro argument
    (`!occ`) defines the set `name` (the macro: that is how such files name their code
    frames); otherwise each variable named gets the labels. `value labels` replaces a
    variable's labels, `add value labels` adds to or changes them. A code labelled twice
    in one command keeps its last label and is listed in `repeated`.
    """
    sets: dict[str, dict[str, str]] = {}
    macro = None
    for command in spss_commands(text):
        if command == "!ENDDEFINE":
            macro = None
            continue
        define = _DEFINE.match(command)
        if define:
            macro = define.group(1)
            continue
        match = _VALUE_LABELS.match(command)
        if not match:
            continue
        add = match.group(1) is not None
        for variables, pairs, codes in _spss_specs(match.group(2)):
            names = [macro if (v.startswith("!") and macro) else v for v in variables if v.lower() != "to"]
            for name in dict.fromkeys(names):
                _note_repeats(name, codes, repeated)
                current = sets.get(name, {}) if add else {}
                current = dict(current)
                current.update(pairs)
                sets[name] = current
    return sets


_SPSS_TOKEN = re.compile(r"""\s*(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)"|(/)|(\+)|([^\s/'"+]+))""", re.S)


def _spss_specs(text: str) -> list[tuple[list[str], dict[str, str], list[str]]]:
    """[(variables, {code: label}, codes in order written)] of a value labels body `v1 v2 1 'a' 2 'b' /v3 ...`."""
    specs: list[tuple[list[str], dict[str, str], list[str]]] = []
    variables: list[str] = []
    pairs: dict[str, str] = {}
    codes: list[str] = []
    pending: str | None = None
    last_label: str | None = None
    concatenate = False
    for match in _SPSS_TOKEN.finditer(text):
        single, double, slash, plus, word = match.groups()
        if match.group(0).strip() == "":
            continue
        if slash:
            if variables:
                specs.append((variables, pairs, codes))
            variables, pairs, codes, pending, last_label = [], {}, [], None, None
            continue
        if plus:
            concatenate = True
            continue
        if single is not None or double is not None:
            label = single.replace("''", "'") if single is not None else double.replace('""', '"')
            if concatenate and last_label is not None:
                pairs[last_label] += label
            elif pending is None:
                raise CamsisError(f"value labels: label '{label}' has no value before it")
            else:
                pairs[pending] = label
                codes.append(pending)
                last_label, pending = pending, None
            concatenate = False
            continue
        if pairs or pending is not None or re.fullmatch(r"[-+]?\d+(\.\d*)?", word):
            if pending is not None:
                raise CamsisError(f"value labels: value {pending} has no label")
            pending = word
        else:
            variables.append(word)
    if pending is not None:
        raise CamsisError(f"value labels: value {pending} has no label")
    if variables:
        specs.append((variables, pairs, codes))
    return specs


# --- labelled data -------------------------------------------------------------------

def _data_label_sets(path: Path) -> dict[str, dict[str, str]]:
    reader = pyreadstat.read_dta if path.suffix.lower() == ".dta" else pyreadstat.read_sav
    try:
        _, meta = reader(str(path), metadataonly=True)
    except Exception as error:  # pyreadstat raises several types for an unreadable file
        raise CamsisError(f"{path}: cannot read it: {' '.join(str(error).split())}") from None
    sets = {name: {_code_text(code): str(label) for code, label in labels.items()}
            for name, labels in meta.value_labels.items()}
    for variable, name in meta.variable_to_label.items():
        if name in sets and variable not in sets:
            sets[variable] = sets[name]
    return sets


def _code_text(code) -> str:
    """A numeric code as Stata would print it (1120.0 -> '1120'); other values as text."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def variable_labels(path: str | Path) -> dict[str, str]:
    """Variable labels of a .dta/.sav (empty for syntax files): the frame's default label."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return codebook_variable_labels(path)
    if path.suffix.lower() not in DATA_SUFFIXES:
        return {}

    reader = pyreadstat.read_dta if path.suffix.lower() == ".dta" else pyreadstat.read_sav
    _, meta = reader(str(path), metadataonly=True)
    return {k: v for k, v in meta.column_names_to_labels.items() if v}
