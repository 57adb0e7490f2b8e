"""Helpers for writing Steward plugins in Python.

A plugin is a module (``app.py``) built into a WebAssembly component with
componentize-py against one world of ``steward:guardrail@0.2.0``: ``sop``,
``scorer``, ``tool`` or ``classifier`` (or, for a tool that calls Steward
back, the ``tool`` world of ``@0.3.0``: see ``declare`` and the call-backs
``query``, ``decide``, ``catalog`` and ``alternatives``). componentize-py generates the
bindings as the package ``wit_world``; the module exports the world by
defining a class named ``WitWorld`` that subclasses ``wit_world.WitWorld``::

    import wit_world
    from steward_sdk import Request, Verdict, allow, escalate, intent, max_rows

    class WitWorld(wit_world.WitWorld):
        def evaluate(self, request: Request) -> Verdict:
            if intent(request) is None:
                return escalate("missing-intent", "say why you need this")
            return allow(max_rows(1000))

This module only wraps the generated types (``wit_world.imports.types``) and
imports (``log``, ``catalog``, ``context``) in shorter, friendlier names; the
generated ones stay usable as they are. It works in every world: the
classifier world imports only ``log``, so there ``context()`` returns None
and the catalog helpers raise ``RuntimeError``.

Build (from the plugin folder; ``-s`` leaves out every WASI import, since
the host grants a plugin none of files, clocks, randomness or network)::

    componentize-py -d wit -w sop componentize app -p . -s -o plugin.wasm

What that means for the code:

- Import every module at the top of the file. componentize-py runs the
  imports while it builds (and snapshots the result); a module first
  imported during a call would have to be read from a filesystem the plugin
  does not have, and the call fails.
- No files, sockets or clocks (``time.time()`` fails the call): the request
  context says when the request arrived (``context().received_at_ms``).
  ``random`` works but starts from a seed fixed at build time.
- Importing this module sends what the plugin writes to stdout (``print``)
  and stderr to the host's trace as log lines, and logs an uncaught
  exception with its traceback before the call fails.
"""

import io
import json
import os
import sys
import traceback
from typing import List, Optional, Union

from componentize_py_types import Err
from wit_world.imports import log as _log
from wit_world.imports.types import (
    Action,
    Asset,
    AssetKind,
    ColumnMask,
    ColumnSample,
    IdentityKind,
    MaskMethod,
    Obligation,
    Obligation_MaskColumn,
    Obligation_MaxRows,
    Obligation_NotifyOwner,
    Obligation_RowFilter,
    Principal,
    Reason,
    ReasonCode,
    Request,
    RiskCategory,
    Score,
    ToolDescription,
    ToolError_AccessDenied,
    ToolError_InvalidArguments,
    ToolError_Other,
    Verdict,
    Verdict_Allow,
    Verdict_Deny,
    Verdict_Escalate,
)

# Only the sop, scorer and tool worlds import these; a classifier has
# neither. (Imported here, at build time, rather than on first use:
# componentize-py runs module imports when it pre-initialises the
# component.)
try:
    from wit_world.imports import catalog as _catalog
except ImportError:
    _catalog = None
try:
    from wit_world.imports import context as _context
except ImportError:
    _context = None
# Only a 0.3.0 tool imports the call-backs.
try:
    from wit_world.imports import gate as _gate
except ImportError:
    _gate = None

__all__ = [
    # generated types, re-exported
    "Action", "Asset", "AssetKind", "ColumnSample", "IdentityKind", "MaskMethod", "Obligation",
    "Principal", "ReasonCode", "Request", "RiskCategory", "Score", "ToolDescription", "Verdict",
    # verdicts and obligations
    "allow", "deny", "escalate", "max_rows", "mask_column", "row_filter", "notify_owner",
    # requests
    "intent", "touches_tag", "context", "attribute",
    # catalog
    "lookup", "children",
    # scorers and tools
    "score", "describe", "declare", "json_arguments", "invalid_arguments", "access_denied", "tool_error",
    # call-backs (0.3.0 tools)
    "CallBackRefused", "query", "decide", "catalog", "alternatives",
    # logging
    "Level", "log", "log_debug", "log_info", "log_warn", "log_error",
]


def _enum(kind, value):
    """An enum member from itself or its WIT name (``"needs-review"``)."""
    if isinstance(value, kind):
        return value
    try:
        return kind[str(value).strip().upper().replace("-", "_")]
    except KeyError:
        names = ", ".join(m.name.lower().replace("_", "-") for m in kind)
        raise ValueError(f"{value!r} is not a {kind.__name__} (one of: {names})") from None


# ------------------------------------------------------------ verdicts (sop)


def allow(*obligations: Obligation) -> Verdict:
    """Allow the request, with the obligations the host must enforce."""
    return Verdict_Allow(list(obligations))


def deny(code: Union[ReasonCode, str], message: str) -> Verdict:
    """Deny the request. ``code`` is a ``ReasonCode`` or its WIT name,
    e.g. ``"not-permitted"``, ``"sensitive-data"``."""
    return Verdict_Deny(Reason(_enum(ReasonCode, code), message))


def escalate(code: Union[ReasonCode, str], message: str) -> Verdict:
    """Send the request to a human, e.g. ``escalate("needs-review", "...")``."""
    return Verdict_Escalate(Reason(_enum(ReasonCode, code), message))


def max_rows(n: int) -> Obligation:
    """Return at most ``n`` rows."""
    if not 0 <= n <= 0xFFFF_FFFF:
        raise ValueError("max_rows: n must fit in a u32")
    return Obligation_MaxRows(int(n))


def mask_column(column: str, method: Union[MaskMethod, str] = MaskMethod.REDACT) -> Obligation:
    """Mask ``column`` in the result: ``"null"``, ``"hash"``, ``"last-four"``
    or ``"redact"`` (the default)."""
    return Obligation_MaskColumn(ColumnMask(column, _enum(MaskMethod, method)))


def row_filter(predicate: str) -> Obligation:
    """Only rows matching this SQL predicate, e.g. ``"region = 'emea'"``."""
    return Obligation_RowFilter(predicate)


def notify_owner(message: str) -> Obligation:
    """Tell the asset's owner about this access."""
    return Obligation_NotifyOwner(message)


# ------------------------------------------------------------------ requests

# What Rust's `str::trim` strips (Unicode White_Space), so that `intent`
# agrees with the Rust SDK's `Request::intent` to the character.
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def intent(request: Request) -> Optional[str]:
    """The request's declared intent, stripped; None when absent or blank."""
    text = (request.intent or "").strip(_WHITESPACE)
    return text or None


def touches_tag(request: Request, tag: str) -> bool:
    """Whether any asset of the request carries ``tag`` (e.g. ``"pii"``)."""
    return any(tag in asset.tags for asset in request.assets)


def context():
    """The 0.2.0 context of the request being decided (when it arrived,
    the caller's attributes, for SQL what the statement reads), or None:
    outside a call, for a classifier, or when the host has none."""
    if _context is None:
        return None
    return _context.current()


def attribute(key: str, default: Optional[str] = None, *, on_behalf_of: bool = False) -> Optional[str]:
    """One attribute of the caller (or, with ``on_behalf_of=True``, of the
    human an agent acts for) from the request context, e.g.
    ``attribute("region")``; ``default`` when there is none."""
    ctx = context()
    if ctx is None:
        return default
    attributes = ctx.on_behalf_of_attributes if on_behalf_of else ctx.attributes
    return next((a.value for a in attributes if a.key == key), default)


# ------------------------------------------------------------------- catalog


def _need_catalog():
    if _catalog is None:
        raise RuntimeError("this world has no catalog (a classifier sees only its column)")
    return _catalog


def lookup(path: str) -> Optional[Asset]:
    """The catalog asset at ``path`` (e.g. ``"sales/orders"``), or None."""
    return _need_catalog().lookup(path)


def children(path: str) -> List[Asset]:
    """The catalog assets directly under the folder at ``path``."""
    return _need_catalog().children(path)


# -------------------------------------------------------- scorers and tools


def score(significance: float, rationale: str) -> Score:
    """A scorer's answer; ``significance`` is clamped to [0, 1] (the host
    rejects anything outside it)."""
    return Score(min(1.0, max(0.0, float(significance))), rationale)


def describe(name: str, summary: str, input_schema: Union[str, dict]) -> ToolDescription:
    """A tool's description; ``input_schema`` is a JSON Schema, as text or
    as a dict."""
    if not isinstance(input_schema, str):
        input_schema = json.dumps(input_schema, separators=(",", ":"))
    return ToolDescription(name, summary, input_schema)


def declare(action: str, category: Union[RiskCategory, str], risk_score: float):
    """A 0.3.0 tool's declaration: the action it performs (from the host's
    action catalog, e.g. ``"sql.preview"``) and its risk."""
    if _gate is None:
        raise RuntimeError("declare() is for tools built against steward:guardrail@0.3.0")
    return _gate.ToolDeclaration(action, _enum(RiskCategory, category), float(risk_score))


# ------------------------------------------------- call-backs (0.3.0 tools)


class CallBackRefused(Exception):
    """The host refused a call-back before the gate saw it: outside an
    invocation, beyond ``limits.max_calls``, after the deadline, or with
    arguments it cannot use. A call the gate decided is never an
    exception: its answer's ``decision`` says what was decided."""


def _call(function, *args):
    if _gate is None:
        raise RuntimeError("call-backs are for tools built against steward:guardrail@0.3.0")
    try:
        return json.loads(function(*args))
    except Err as e:
        raise CallBackRefused(getattr(e.value, "value", str(e.value))) from None


def query(sql: str, *, preview: bool = False, intent: Optional[str] = None) -> dict:
    """Run one statement as the caller: the document ``/v1/query`` answers."""
    mode = _gate.QueryMode.PREVIEW if preview else _gate.QueryMode.FULL
    return _call(_gate.query, sql, mode, intent)


def decide(action: str, assets: List[str], intent: Optional[str] = None) -> dict:
    """What would be decided for the caller: the document ``/v1/decide`` answers."""
    return _call(_gate.decide, action, list(assets), intent)


def catalog(path: Optional[str] = None) -> dict:
    """The caller's catalog: ``{"items": [...]}``, or ``{"item": ...}`` for one path
    (``None`` when there is nothing there the caller may see)."""
    return _call(_gate.catalog, path)


def alternatives(sql: str, intent: Optional[str] = None) -> dict:
    """The statement dry-run as the caller and, when it is not allowed,
    the host's alternatives (``["instead"]["alternatives"]``), each allowed."""
    return _call(_gate.alternatives, sql, intent)


def json_arguments(arguments: str) -> dict:
    """A tool's ``invoke`` arguments as a dict; ``invalid_arguments`` is
    raised when they are not a JSON object."""
    try:
        args = json.loads(arguments)
    except ValueError as e:
        raise invalid_arguments("arguments must be JSON: %s" % e)
    if not isinstance(args, dict):
        raise invalid_arguments("arguments must be a JSON object")
    return args


def invalid_arguments(message: str) -> Err:
    """For a tool's ``invoke``: ``raise invalid_arguments("...")``."""
    return Err(ToolError_InvalidArguments(message))


def access_denied(message: str) -> Err:
    """For a tool's ``invoke``: ``raise access_denied("...")``."""
    return Err(ToolError_AccessDenied(message))


def tool_error(message: str) -> Err:
    """For a tool's ``invoke``: ``raise tool_error("...")`` (any other error)."""
    return Err(ToolError_Other(message))


# ------------------------------------------------------------------- logging

Level = _log.Level


def log(level: Union[Level, str], message: str, **fields: object) -> None:
    """Log into the host's trace: ``log("info", "decided", asset="x")``.
    Field values are turned into text with ``str``."""
    _log.emit(_enum(Level, level), message, [_log.Field(k, str(v)) for k, v in fields.items()])


def log_debug(message: str, **fields: object) -> None:
    log(Level.DEBUG, message, **fields)


def log_info(message: str, **fields: object) -> None:
    log(Level.INFO, message, **fields)


def log_warn(message: str, **fields: object) -> None:
    log(Level.WARN, message, **fields)


def log_error(message: str, **fields: object) -> None:
    log(Level.ERROR, message, **fields)


def _building() -> bool:
    """Whether this runs inside componentize-py, while it pre-initialises
    the component (importing the app module), when the host's imports are
    not there yet. componentize-py runs that step with PYTHONHOME=/python;
    in the host the environment is the host's (empty) one."""
    return os.environ.get("PYTHONHOME") == "/python"


class _TraceStream(io.TextIOBase):
    """A text stream whose lines go to the host's trace: the host gives a
    plugin no console (and a component built with --stub-wasi traps on
    one), so ``print`` would otherwise fail."""

    def __init__(self, level: "Level", name: str, console):
        self._level = level
        self._console = console
        self._name = name
        self._pending = ""

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if _building():
            return self._console.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            _log.emit(self._level, line, [])
        return len(text)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            _log.emit(self._level, line, [])


def _log_uncaught(kind, value, tb) -> None:
    """An exception that escapes the plugin fails the call (the host sees
    a trap); log it first, with its traceback, so the trace says why."""
    # Frames without their source lines: reading a .py file at run time
    # needs a filesystem the plugin does not have.
    frames = [
        '  File "%s", line %d, in %s' % (frame.f_code.co_filename, line, frame.f_code.co_name)
        for frame, line in traceback.walk_tb(tb)
    ]
    text = "\n".join(["Traceback (most recent call last):"] + frames) + "\n"
    text += "".join(traceback.format_exception_only(kind, value)).rstrip()
    _log.emit(Level.ERROR, "uncaught %s: %s" % (kind.__name__, value), [_log.Field("traceback", text)])


# print() becomes an info line in the trace, anything written to stderr an
# error line, and an uncaught exception an error line with its traceback.
sys.stdout = _TraceStream(Level.INFO, "<stdout>", sys.stdout)
sys.stderr = _TraceStream(Level.ERROR, "<stderr>", sys.stderr)
sys.excepthook = _log_uncaught
