"""TS0xx: reading input files (missing, unreadable, not text, bad command-line values)."""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity

E = Severity.ERROR
W = Severity.WARNING

CODES = (
    CodeInfo("TS001", "file-not-found", E, "An input file does not exist or cannot be read.",
             "Nothing can be converted or checked without it.",
             "Check the path; for a filter named by an absolute path on the old host, pass --root DIR."),
    CodeInfo("TS002", "file-not-text", E, "An input file is not valid text (NUL byte or undecodable).",
             "tinyproxy would not load it either.", "Pass the real configuration file."),
    CodeInfo("TS003", "output-exists", E, "The output directory exists and is not empty.",
             "tinysquid never overwrites earlier results silently.", "Pass --force, or choose an empty directory."),
    CodeInfo("TS004", "bad-option", E, "A command-line value is not valid.",
             "The command cannot run as asked.", "See --help for the accepted values."),
    CodeInfo("TS005", "bad-document", E, "An input document (JSON/YAML report, dump) is malformed.",
             "Its contents cannot be trusted.", "Regenerate it with the tinysquid command that produces it."),
    CodeInfo("TS006", "output-not-writable", E, "An output could not be written (permission, read-only or full "
             "file system, a parent that is a file, a dangling link, a name too long).",
             "Nothing was written: earlier results, if any, are left as they were.",
             "Choose another output path, or fix the permission or free space."),
    CodeInfo("TS008", "wrong-document-kind", E,
             "An input document is of another kind or apiVersion than the option expects "
             "(an inventory passed as --verify-report).",
             "Reading it as the expected kind would decide checks from the wrong data.",
             "Pass the file the option names; `tinysquid schema KIND` prints what each kind looks like."),
    CodeInfo("TS009", "document-shape", E, "An input document lacks a field its kind requires, or a field "
             "has the wrong type (the message gives the JSON path).",
             "Its contents cannot be trusted.",
             "Regenerate it with the tinysquid command that writes it; `tinysquid schema KIND` prints its schema."),
    CodeInfo("TS016", "output-is-a-format", E, "-o/--output names an output format (kubectl, helm and the AWS "
             "CLI mean the same), and was given something else: a folder or a file name.",
             "Nothing was written.", "convert writes its folder with --out-dir DIR; -o takes table, json or yaml."),
    CodeInfo("TS017", "stdout-one-document", E, "`-` (stdout) holds exactly one document: convert --out-dir - "
             "needs --only to say which, and -o json cannot share stdout with it.",
             "Two documents on one stream could not be told apart (`helm install -f -` would read both).",
             "Pass --only values (or squid.conf, report, expect) with --out-dir -, and keep -o table."),
    CodeInfo("TS007", "os-error", E, "The operating system refused a path given on the command line.",
             "The command cannot run as asked; nothing was written.", "Check the path named in the message."),
    CodeInfo("TS023", "ignore-rule-unused", W,
             "An ignore rule (--ignore or the project config's `ignore`) matched no finding of this run.",
             "The finding it was written for is gone or moved to another line; a stale rule could hide a "
             "new finding later.",
             "Delete the rule, or point it at the finding's current code, file and line."),
    CodeInfo("TS024", "project-config-invalid", E,
             "tinysquid.toml or pyproject.toml's [tool.tinysquid] is not valid TOML, has an unknown key, or a "
             "value of the wrong type.",
             "The reviewed findings it lists cannot be trusted, so nothing runs.",
             "Fix the file at the line named; the keys are listed in the README (Reviewed findings)."),
    CodeInfo("TS025", "ignore-rule-invalid", E,
             "An ignore rule is not CODE[:FILE[:LINE]] with a known, non-error code.",
             "A misspelt rule would silently ignore nothing (or the wrong thing); an error cannot be "
             "accepted by review because the output would be wrong.",
             "Write e.g. TS401, TS257:allow.list or TS274:tinyproxy.conf:4; `docs/codes.md` lists the codes."),
)
