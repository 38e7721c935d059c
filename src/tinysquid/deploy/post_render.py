#!/usr/bin/env python3
"""tinysquid post-renderer for the younsl ``squid`` Helm chart (Helm 3 executable, Helm 4 plugin).

Reads the chart's rendered manifests on stdin and writes them to stdout with three changes, made on
the objects selected by their labels (never by name, so any release name works):

* the squid container's preStop hook sleeps first (the endpoint leaves the Service while squid
  still serves), then runs ``squid -k shutdown`` and waits for squid to exit, inside the grace period
  (the chart's own hook shuts down first and so refuses connections on every rollout);
* with BasicAuth, the htpasswd Secret is mounted where squid's auth helper reads it;
* every topology spread constraint counts only this release's pods (``app.kubernetes.io/instance``).

It re-serialises every document, so the chart's duplicate ``app.kubernetes.io/component`` key in
the metrics Service leaves as one key (the last value, as Helm's own parser keeps). Python 3.8+
standard library only: it reads the block-style YAML that Helm templates print and stops with an
error (exit 1, Helm aborts) on anything else (anchors, tags, flow collections with content,
multi-line plain or quoted scalars) instead of guessing. Its settings are ``settings.json`` beside it.
"""

from __future__ import annotations

import json
import os
import sys

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"


class RenderError(Exception):
    """Input this script will not guess about."""


class Scalar:
    """A scalar kept as its source token (re-emitted unchanged), or a literal/folded block."""

    __slots__ = ("block", "raw")

    def __init__(self, raw: str, block: list[str] | None = None) -> None:
        self.raw = raw          # plain/quoted token, "" for null, or the block header ("|-")
        self.block = block      # block lines without their indentation, or None

    def value(self) -> str | None:
        if self.block is not None:
            return "\n".join(self.block)
        raw = self.raw
        if raw == "" or raw in ("null", "~"):
            return None
        if raw.startswith('"'):
            return json.loads(raw)
        if raw.startswith("'"):
            return raw[1:-1].replace("''", "'")
        return raw


def quoted(text: str) -> Scalar:
    return Scalar(json.dumps(text))


def number(value: int) -> Scalar:
    return Scalar(str(int(value)))


class Mapping:
    """An ordered mapping; a repeated key keeps its first place and its last value."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[list] = []

    def get(self, key: str):
        for k, v in self.items:
            if _key_text(k) == key:
                return v
        return None

    def set(self, key: str, node) -> None:
        for item in self.items:
            if _key_text(item[0]) == key:
                item[1] = node
                return
        self.items.append([key if _plain_key_ok(key) else json.dumps(key), node])


def _key_text(raw: str) -> str:
    if raw.startswith('"'):
        return json.loads(raw)
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    return raw


def _plain_key_ok(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "._-/" for c in key)


# ------------------------------------------------------------------------------------------ reading

def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_skip(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


def _split_key(text: str):
    """(key token, rest) when ``text`` is a mapping entry, else None."""
    if text[:1] in ('"', "'"):
        q = text[0]
        i = 1
        while i < len(text):
            if q == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == q:
                if q == "'" and text[i + 1:i + 2] == "'":
                    i += 2
                    continue
                break
            i += 1
        end = i + 1
        if text[end:end + 1] == ":" and (end + 1 == len(text) or text[end + 1] in " \t"):
            return text[:end], text[end + 1:].strip()
        return None
    if text[:1] in "&*!|>{[%@`":
        return None
    for i, c in enumerate(text):
        if c == ":" and (i + 1 == len(text) or text[i + 1] in " \t"):
            return text[:i].rstrip(), text[i + 1:].strip()
        if c == "#" and i > 0 and text[i - 1] in " \t":
            return None
    return None


def _scalar_token(text: str, where: str) -> str:
    """The scalar token of ``text`` with a trailing comment removed; quoted ones must close here."""
    if not text:
        return ""
    c = text[0]
    if c in "&*!":
        raise RenderError(f"{where}: anchors, aliases and tags are not supported")
    if c in "{[":
        body = text.split(" #", 1)[0].strip()
        if body in ("{}", "[]"):
            return body
        raise RenderError(f"{where}: flow collections with content are not supported")
    if c in "\"'":
        i = 1
        while i < len(text):
            if c == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == c:
                if c == "'" and text[i + 1:i + 2] == "'":
                    i += 2
                    continue
                rest = text[i + 1:].strip()
                if rest and not rest.startswith("#"):
                    raise RenderError(f"{where}: text after a quoted scalar")
                return text[:i + 1]
            i += 1
        raise RenderError(f"{where}: multi-line quoted scalars are not supported")
    for i, ch in enumerate(text):
        if ch == "#" and i > 0 and text[i - 1] in " \t":
            return text[:i].rstrip()
    return text.rstrip()


class _Reader:
    def __init__(self, lines: list[str], origin: int) -> None:
        self.lines = lines
        self.origin = origin

    def where(self, i: int) -> str:
        return f"line {self.origin + i + 1}"

    def next_content(self, i: int) -> int:
        while i < len(self.lines) and _is_skip(self.lines[i]):
            i += 1
        return i

    def node(self, i: int, indent: int):
        """Parse the node whose first line is ``i`` (indentation ``indent``); (node, next index)."""
        text = self.lines[i][indent:]
        if text == "-" or text.startswith("- "):
            return self.seq(i, indent)
        if _split_key(text) is not None:
            return self.mapping(i, indent)
        raise RenderError(f"{self.where(i)}: a bare scalar where a mapping or sequence was expected")

    def value(self, i: int, rest: str, parent: int):
        """The value after ``key:`` or ``-`` on line ``i``; ``parent`` is that line's indentation."""
        if rest[:1] in ("|", ">"):
            header = rest.split(" #", 1)[0].strip()
            if any(ch.isdigit() for ch in header):
                raise RenderError(f"{self.where(i)}: block indentation indicators are not supported")
            j = i + 1
            body: list[str] = []
            width = None
            while j < len(self.lines):
                line = self.lines[j]
                if line.strip() == "":
                    # spaces past the block's indentation are content ("    " in squid.conf)
                    body.append(line[width:] if width is not None and len(line) > width else "")
                    j += 1
                    continue
                ind = _indent(line)
                if ind <= parent:
                    break
                if width is None:
                    width = ind
                if ind < width:
                    raise RenderError(f"{self.where(j)}: block scalar line less indented than its first")
                body.append(line[width:])
                j += 1
            if "+" not in header:      # clip/strip: YAML drops trailing blank lines anyway
                while body and body[-1] == "":
                    body.pop()
            return Scalar(header, body), j
        token = _scalar_token(rest, self.where(i))
        j = self.next_content(i + 1)
        if token == "":
            if j < len(self.lines):
                ind = _indent(self.lines[j])
                nxt = self.lines[j][ind:]
                if ind > parent or (ind == parent and (nxt == "-" or nxt.startswith("- "))
                                    and not self._is_seq_item_line(i, parent)):
                    return self.node(j, ind)
            return Scalar(""), i + 1
        k = i + 1
        while k < len(self.lines) and self.lines[k].strip() and _indent(self.lines[k]) > parent:
            # a plain scalar folded over lines (Go's YAML wraps long strings): one line, one space
            more = self.lines[k].strip()
            if token[:1] in "\"'{[" or more.startswith("#") or ": " in more or " #" in more \
                    or more.endswith(":"):
                raise RenderError(f"{self.where(k)}: unsupported continuation of a scalar")
            token += " " + more
            k += 1
        if k < len(self.lines) and not self.lines[k].strip():
            j = self.next_content(k)
            if j < len(self.lines) and _indent(self.lines[j]) > parent and k > i + 1:
                raise RenderError(f"{self.where(j)}: blank line inside a folded plain scalar")
        return Scalar(token), k

    def _is_seq_item_line(self, i: int, indent: int) -> bool:
        return getattr(self, "_seq_line", None) == (i, indent)

    def mapping(self, i: int, indent: int):
        node = Mapping()
        while i < len(self.lines):
            i = self.next_content(i)
            if i >= len(self.lines):
                break
            line = self.lines[i]
            ind = _indent(line)
            if ind < indent:
                break
            if ind > indent:
                raise RenderError(f"{self.where(i)}: unexpected indentation")
            text = line[indent:]
            if text == "-" or text.startswith("- "):
                break
            split = _split_key(text)
            if split is None:
                raise RenderError(f"{self.where(i)}: expected 'key: value'")
            key, rest = split
            if key in ("<<",):
                raise RenderError(f"{self.where(i)}: merge keys are not supported")
            value, i = self.value(i, rest, indent)
            for item in node.items:
                if _key_text(item[0]) == _key_text(key):
                    item[1] = value
                    break
            else:
                node.items.append([key, value])
        return node, i

    def seq(self, i: int, indent: int):
        items: list = []
        while i < len(self.lines):
            i = self.next_content(i)
            if i >= len(self.lines):
                break
            line = self.lines[i]
            ind = _indent(line)
            text = line[ind:]
            if ind != indent or not (text == "-" or text.startswith("- ")):
                if ind > indent:
                    raise RenderError(f"{self.where(i)}: unexpected indentation")
                break
            rest = text[2:].lstrip(" ") if text != "-" else ""
            col = indent + (len(text) - len(rest)) if rest else indent + 2
            if rest and (rest == "-" or rest.startswith("- ") or _split_key(rest) is not None):
                # "- key: v" / "- - x": the item is the node starting at the column after "- "
                self.lines[i] = " " * col + rest
                item, i = self.node(i, col)
            else:
                self._seq_line = (i, indent)
                item, i = self.value(i, rest, indent)
                self._seq_line = None
            items.append(item)
        return items, i


def parse_stream(text: str) -> list[tuple[list[str], object]]:
    """The documents of a ``---``-separated stream: (leading comment lines, root node or None)."""
    docs: list[tuple[list[str], object]] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()          # the final newline ends the last line; it does not start another
    start = 0
    chunks: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    for n, line in enumerate(lines):
        if line == "---" or line.startswith(("--- ", "---\t")):
            if line.strip() not in ("---",) and not line[3:].strip().startswith("#"):
                raise RenderError(f"line {n + 1}: content after '---' is not supported")
            chunks.append((start, cur))
            cur = []
            start = n + 1
        elif line.startswith("...") and line.strip() == "...":
            continue
        else:
            cur.append(line)
    chunks.append((start, cur))
    for origin, chunk in chunks:
        if line_has_tab_indent(chunk):
            raise RenderError(f"document at line {origin + 1}: tab indentation")
        comments = []
        k = 0
        while k < len(chunk) and _is_skip(chunk[k]):
            if chunk[k].strip():
                comments.append(chunk[k].strip())
            k += 1
        if k == len(chunk):
            if comments:
                docs.append((comments, None))
            continue
        reader = _Reader(chunk, origin)
        ind = _indent(chunk[k])
        root, end = reader.node(k, ind)
        end = reader.next_content(end)
        if end < len(chunk):
            raise RenderError(f"{reader.where(end)}: unexpected content after the document")
        docs.append((comments, root))
    return docs


def line_has_tab_indent(lines: list[str]) -> bool:
    return any(line[:1] == "\t" for line in lines)


# ------------------------------------------------------------------------------------------ writing

def _emit(node, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(node, Mapping):
        for key, value in node.items:
            _emit_entry(pad + key + ":", value, indent, out)
    elif isinstance(node, list):
        for item in node:
            sub: list[str] = []
            if isinstance(item, (Mapping, list)) and _non_empty(item):
                _emit(item, indent + 2, sub)
                sub[0] = pad + "- " + sub[0][indent + 2:]
            else:
                _emit_entry(pad + "-", item, indent, sub)
            out.extend(sub)
    else:
        raise RenderError("internal: cannot emit a bare scalar")


def _non_empty(node) -> bool:
    return bool(node.items) if isinstance(node, Mapping) else bool(node)


def _emit_entry(head: str, value, indent: int, out: list[str]) -> None:
    if isinstance(value, Scalar):
        if value.block is not None:
            out.append(f"{head} {value.raw}")
            inner = " " * (indent + 2)
            out.extend(inner + line if line else "" for line in value.block)
        else:
            out.append(f"{head} {value.raw}" if value.raw else head)
    elif isinstance(value, Mapping):
        if not value.items:
            out.append(head + " {}")
        else:
            out.append(head)
            _emit(value, indent + 2, out)
    elif isinstance(value, list):
        if not value:
            out.append(head + " []")
        else:
            out.append(head)
            _emit(value, indent + 2, out)
    else:
        raise RenderError(f"internal: cannot emit {type(value).__name__}")


def emit_stream(docs: list[tuple[list[str], object]]) -> str:
    out: list[str] = []
    for comments, root in docs:
        out.append("---")
        out.extend(comments)
        if root is not None:
            _emit(root, 0, out)
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------ patching

def _labels(obj: Mapping, *path: str) -> dict[str, str]:
    node = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return {}
    return {_key_text(k): v.value() for k, v in node.items if isinstance(v, Scalar)}


def _child(node: Mapping, key: str, kind=Mapping):
    value = node.get(key)
    if value is None or (isinstance(value, Scalar) and value.value() is None):
        value = kind()
        node.set(key, value)
    if not isinstance(value, kind):
        raise RenderError(f"{key}: expected a {'mapping' if kind is Mapping else 'list'}")
    return value


def prestop_script(drain: int, wait: int) -> str:
    return (
        f"sleep {drain}\n"
        "squid -k shutdown || exit 0\n"
        "i=0\n"
        f"while [ \"$i\" -lt {wait} ] && squid -k check 2>/dev/null; do sleep 1; i=$((i+1)); done\n"
    )


def patch(docs: list[tuple[list[str], object]], settings: dict) -> int:
    """Patch the squid Deployments in place; the number patched."""
    app = settings.get("app_name", "squid")
    drain = int(settings["drain_seconds"])
    shutdown = int(settings["shutdown_timeout"])
    auth = settings.get("basic_auth")
    patched = 0
    for _, obj in docs:
        if not isinstance(obj, Mapping):
            continue
        kind = obj.get("kind")
        if not (isinstance(kind, Scalar) and kind.value() == "Deployment"):
            continue
        if _labels(obj, "metadata", "labels").get(NAME_LABEL) != app:
            continue
        template = _child(_child(obj, "spec"), "template")
        pod_labels = _labels(template, "metadata", "labels")
        pod = _child(template, "spec")
        grace_node = pod.get("terminationGracePeriodSeconds")
        grace = int(grace_node.value()) if isinstance(grace_node, Scalar) and grace_node.value() else 30
        if grace < drain + shutdown + 5:
            raise RenderError(f"terminationGracePeriodSeconds {grace} is shorter than the drain ({drain} s) + "
                              f"squid's shutdown_lifetime ({shutdown} s) + 5 s")
        containers = _child(pod, "containers", list)
        squid = [c for c in containers if isinstance(c, Mapping) and _labels_value(c, "name") == app]
        if len(squid) != 1:
            raise RenderError(f"Deployment with {NAME_LABEL}={app} has no container named {app!r}")
        container = squid[0]
        exec_ = Mapping()
        exec_.set("command", [quoted("/bin/sh"), quoted("-c"), Scalar("|", prestop_script(
            drain, grace - drain - 5).rstrip("\n").split("\n"))])
        pre_stop = Mapping()
        pre_stop.set("exec", exec_)
        _child(container, "lifecycle").set("preStop", pre_stop)
        if auth:
            volumes = _child(pod, "volumes", list)
            secret = Mapping()
            secret.set("secretName", quoted(auth["secret"]))
            secret.set("defaultMode", number(0o440))
            volume = Mapping()
            volume.set("name", quoted("squid-passwd"))
            volume.set("secret", secret)
            volumes[:] = [v for v in volumes if _labels_value(v, "name") != "squid-passwd"] + [volume]
            mounts = _child(container, "volumeMounts", list)
            mount = Mapping()
            mount.set("name", quoted("squid-passwd"))
            mount.set("mountPath", quoted(auth["mount_path"]))
            mount.set("subPath", quoted(auth["key"]))
            mount.set("readOnly", Scalar("true"))
            mounts[:] = [m for m in mounts if _labels_value(m, "name") != "squid-passwd"] + [mount]
        instance = pod_labels.get(INSTANCE_LABEL)
        spread = pod.get("topologySpreadConstraints")
        if instance and isinstance(spread, list):
            for constraint in spread:
                if not isinstance(constraint, Mapping):
                    continue
                selector = _child(constraint, "labelSelector")
                match = _child(selector, "matchLabels")
                if match.get(NAME_LABEL) is None:
                    match.set(NAME_LABEL, quoted(app))
                match.set(INSTANCE_LABEL, quoted(instance))
        patched += 1
    return patched


def _labels_value(node, key: str):
    if not isinstance(node, Mapping):
        return None
    value = node.get(key)
    return value.value() if isinstance(value, Scalar) else None


def load_settings() -> dict:
    here = os.path.dirname(os.path.realpath(__file__))
    with open(os.path.join(here, "settings.json"), encoding="utf-8") as f:
        return json.load(f)


def main() -> int:
    try:
        settings = load_settings()
        text = sys.stdin.buffer.read().decode("utf-8")
        docs = parse_stream(text)
        if patch(docs, settings) == 0:
            raise RenderError(f"no Deployment labelled {NAME_LABEL}={settings.get('app_name', 'squid')} in the "
                              "input: is this the younsl squid chart?")
        sys.stdout.write(emit_stream(docs))
    except (RenderError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"tinysquid post-render: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
