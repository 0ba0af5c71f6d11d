"""Mapping files: how a carrier's CDR export maps onto the canonical schema.

A mapping is a small TOML file. Every section and key is optional; an empty file means "the export
already uses the canonical names". Example, for a mediation export with split date/time columns::

    [columns]                 # canonical name = export's column name
    caller = "A_NUMBER"
    callee = "B_NUMBER"
    event_type = "CALL_TYPE"
    start_date = "START_DATE" # a date column and a time column instead of one timestamp
    start_time = "START_TIME"
    duration_s = "DURATION"
    cell_id = "CELL"
    imei = "IMEI"

    [values.event_type]       # export code = voice | sms | voice_in | sms_in | drop
    MOC = "voice"             # an outgoing leg: A is the caller
    MTC = "voice_in"          # an incoming leg: A is the served subscriber, who received it
    SMS_MO = "sms"
    SMS_MT = "sms_in"
    FWD = "drop"              # drop: counted, not an event

    [values.answered]         # export code = true | false
    ANS = true
    NOANS = false

    [values.callee_network]   # export code = onnet | offnet | international
    ONNET = "onnet"           # (with [columns] callee_network = "DESTINATION_CAT")
    OTHER_MNO = "offnet"
    IDD = "international"

    [format]
    timestamp = "%d/%m/%Y %H:%M:%S"  # chrono/strftime format; auto-detected when absent
    duration = "hms"                 # seconds | hms (HH:MM:SS) | auto
    timezone = "Asia/Ho_Chi_Minh"    # the network's local zone
    source_timezone = "UTC"          # zone of naive timestamps in the export, when not local
    country_code = "84"
    separator = ";"                  # CSV field separator; auto-detected when absent
    leg_tolerance_s = 5              # two legs of one call start at most this far apart
    home_prefixes = ["8491", "8494"] # E.164 prefixes of the carrier's own ranges (on-net)
"""

from __future__ import annotations

import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.errors import InputError
from detector.inputs.dialling_plan import dialling_plan
from detector.inputs.numbers import DEFAULT_COUNTRY_CODE

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

#: Canonical CDR columns (data-contract.md) and whether each is required.
CANONICAL_COLUMNS: dict[str, bool] = {
    "caller": True,
    "callee": True,
    "start_time": True,
    "duration_s": False,  # SMS-only and billing extracts have none (data-contract.md)
    "event_type": True,
    "answered": False,
    "cell_id": False,
    "imei": False,
    "callee_network": False,
}
#: Optional columns whose absence makes the features that read them missing (null), never 0.
OPTIONAL_COLUMNS = tuple(c for c, required in CANONICAL_COLUMNS.items() if not required)
#: Extra names a mapping may use: a split timestamp.
_SPLIT_COLUMNS = ("start_date",)

EVENT_TYPES = ("voice", "sms")
#: Event types of a leg written from the receiving subscriber's side (data-contract.md, "Exports
#: written from the served subscriber's side"), and the event type each is.
INCOMING_LEGS = {"voice_in": "voice", "sms_in": "sms"}
DROP = "drop"
#: Two legs of one call whose start times differ by at most this many seconds are one event.
DEFAULT_LEG_TOLERANCE_S = 5

_DEFAULT_EVENT_TYPES = {"VOICE": "voice", "SMS": "sms"}
_DEFAULT_ANSWERED = {
    "TRUE": True, "T": True, "1": True, "YES": True, "Y": True,
    "FALSE": False, "F": False, "0": False, "NO": False, "N": False,
}
#: Where the other party is (data-contract.md, ``callee_network``).
NETWORKS = ("onnet", "offnet", "international")
_DEFAULT_NETWORKS = {n.upper(): n for n in NETWORKS}
_DURATION_FORMATS = ("auto", "seconds", "hms")
_KNOWN = {
    "columns": None,
    "values": {"event_type", "answered", "callee_network"},
    "format": {"timestamp", "duration", "timezone", "source_timezone", "country_code", "separator",
               "leg_tolerance_s", "home_prefixes"},
}


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file. ``Mapping()`` is the identity mapping for canonical exports.

    Value maps are keyed by the export's code in upper case: codes are matched after trimming
    and upper-casing, because mediation systems are inconsistent about case.
    """

    columns: dict[str, str] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_EVENT_TYPES))
    answered: dict[str, bool] = field(default_factory=lambda: dict(_DEFAULT_ANSWERED))
    callee_networks: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_NETWORKS))
    timestamp_format: str | None = None
    duration_format: str = "auto"
    timezone: str = DEFAULT_TIMEZONE
    source_timezone: str | None = None
    country_code: str = DEFAULT_COUNTRY_CODE
    separator: str | None = None
    leg_tolerance_s: int = DEFAULT_LEG_TOLERANCE_S
    #: E.164 prefixes (digits, no ``+``) of the carrier's own number ranges: a callee under one is
    #: on-net, another of the country off-net. Empty: unknown (off-net share is null).
    home_prefixes: tuple[str, ...] = ()
    source: str = "<default>"

    @property
    def has_incoming_legs(self) -> bool:
        """Whether the export has incoming legs (``voice_in``/``sms_in`` codes), whose parties are
        swapped and whose twins (the same call's outgoing leg) are matched."""
        return any(kind in INCOMING_LEGS for kind in self.event_types.values())

    def source_column(self, canonical: str) -> str:
        """The export's name for a canonical column."""
        return self.columns.get(canonical, canonical)

    def option_for(self, canonical: str) -> str:
        """How a user maps ``canonical``, for error messages."""
        return f'[columns] {canonical} = "<your column>" in the --mapping file'


def load_mapping(path: str | Path | None) -> Mapping:
    """Read and check a mapping file; ``None`` gives the identity mapping.

    Raises :class:`InputError` with one clear line for an unreadable file, bad TOML, an unknown
    section or key, or a value that cannot be right (an unknown event type, a bad time zone).
    """
    if path is None:
        return Mapping()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"mapping file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read mapping file {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"mapping file {p} is not valid TOML: {exc}") from None
    return _from_dict(raw, str(p))


def _from_dict(raw: dict[str, Any], source: str) -> Mapping:
    def bad(msg: str) -> InputError:
        return InputError(f"mapping file {source}: {msg}")

    for section, value in raw.items():
        if section not in _KNOWN:
            raise bad(f"unknown section [{section}] (expected one of: {', '.join(_KNOWN)})")
        if not isinstance(value, dict):
            raise bad(f"[{section}] must be a table")
        allowed = _KNOWN[section]
        if allowed is not None:
            unknown = set(value) - allowed
            if unknown:
                raise bad(f"unknown key {sorted(unknown)[0]!r} in [{section}]")

    columns = raw.get("columns", {})
    allowed_columns = set(CANONICAL_COLUMNS) | set(_SPLIT_COLUMNS)
    for canonical, column in columns.items():
        if canonical not in allowed_columns:
            raise bad(f"unknown canonical column {canonical!r} in [columns] "
                      f"(expected one of: {', '.join(sorted(allowed_columns))})")
        if not isinstance(column, str) or not column:
            raise bad(f"[columns] {canonical} must be a column name (text)")

    values = raw.get("values", {})
    event_types = dict(_DEFAULT_EVENT_TYPES)
    for code, kind in values.get("event_type", {}).items():
        if kind not in (*EVENT_TYPES, *INCOMING_LEGS, DROP):
            raise bad(f"[values.event_type] {code} = {kind!r}: expected voice, sms, voice_in, sms_in or drop")
        event_types[str(code).strip().upper()] = kind
    answered = dict(_DEFAULT_ANSWERED)
    for code, flag in values.get("answered", {}).items():
        if not isinstance(flag, bool):
            raise bad(f"[values.answered] {code} = {flag!r}: expected true or false")
        answered[str(code).strip().upper()] = flag
    networks = dict(_DEFAULT_NETWORKS)
    for code, network in values.get("callee_network", {}).items():
        if network not in NETWORKS:
            raise bad(f"[values.callee_network] {code} = {network!r}: expected {', '.join(NETWORKS)}")
        networks[str(code).strip().upper()] = network

    fmt = raw.get("format", {})
    for key in ("timestamp", "timezone", "source_timezone", "country_code", "separator"):
        if key in fmt and not isinstance(fmt[key], str):
            raise bad(f"[format] {key} must be text")
    duration = fmt.get("duration", "auto")
    if duration not in _DURATION_FORMATS:
        raise bad(f"[format] duration = {duration!r}: expected one of {', '.join(_DURATION_FORMATS)}")
    for key in ("timezone", "source_timezone"):
        if key in fmt:
            try:
                zoneinfo.ZoneInfo(fmt[key])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise bad(f"[format] {key} = {fmt[key]!r} is not a known time zone") from None
    country_code = fmt.get("country_code", DEFAULT_COUNTRY_CODE)
    if not country_code.isdigit():
        raise bad(f"[format] country_code = {country_code!r} must be digits")
    try:
        dialling_plan(country_code)
    except ValueError:
        raise bad(f"[format] country_code = {country_code!r} is no country's calling code") from None
    tolerance = fmt.get("leg_tolerance_s", DEFAULT_LEG_TOLERANCE_S)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise bad(f"[format] leg_tolerance_s = {tolerance!r} must be a whole number of seconds, 0 or more")
    home_prefixes = fmt.get("home_prefixes", [])
    if (not isinstance(home_prefixes, list)
            or not all(isinstance(p, str) and p.lstrip("+").isdigit() for p in home_prefixes)):
        raise bad(f"[format] home_prefixes = {home_prefixes!r} must be a list of E.164 prefixes "
                  f'(digits, e.g. ["{country_code}91"])')
    home_prefixes = [p.lstrip("+") for p in home_prefixes]
    foreign = [p for p in home_prefixes if not p.startswith(country_code)]
    if foreign:
        raise bad(f"[format] home_prefixes: {foreign[0]!r} is not under country code {country_code}")
    separator = fmt.get("separator")
    if separator is not None and len(separator.encode()) != 1:
        raise bad(f"[format] separator = {separator!r} must be a single character")

    return Mapping(
        columns=dict(columns),
        event_types=event_types,
        answered=answered,
        callee_networks=networks,
        timestamp_format=fmt.get("timestamp"),
        duration_format=duration,
        timezone=fmt.get("timezone", DEFAULT_TIMEZONE),
        source_timezone=fmt.get("source_timezone"),
        country_code=country_code,
        separator=separator,
        leg_tolerance_s=tolerance,
        home_prefixes=tuple(home_prefixes),
        source=source,
    )
