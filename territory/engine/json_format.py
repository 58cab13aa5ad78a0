"""The engine's JSON formats: instances in (`territory-instance/1`), answers out (`territory-solution/1`).

An instance file holds one question, in one of two modes: `assignment` (accounts to reps, an
`Instance`) or `alignment` (geographic units into p territories, an `AlignmentInstance`).
docs/engine.md describes every field with its type, default and meaning. Reading is strict:
an unknown key, a value of the wrong type or range, or a reference to an id that does not
exist raises `InstanceError` with a message naming the field and the unit or rep, e.g.

    units[17] (id "A-42"): measures.workload_hours must be a non-negative number, got -3

so that a typo is never silently ignored. Families and current reps are given by id and
become indices; coordinates may be null (unknown) in assignment mode.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from territory.engine.alignment import AlignmentInstance, AlignmentResult, dispersion_weights
from territory.engine.instance import Instance, Measure, Reps, Units, Weights
from territory.engine.solution import COST_TERMS, Solution
from territory.geo import haversine_km

FORMAT = "territory-instance/1"
SOLUTION_FORMAT = "territory-solution/1"
SHARE_BASES = ("capacity", "capacity_x_level", "equal")

TOP_KEYS = {
    "assignment": ("format", "mode", "measures", "weights", "eligibility", "fit_attributes", "top_tier_min_experience",
                   "max_moved_share", "max_moved_value_share", "units", "reps", "adjacency"),
    "alignment": ("format", "mode", "measures", "weights", "units", "adjacency", "territories"),
}
UNIT_KEYS = {
    "assignment": ("id", "lat", "lon", "measures", "visits", "value", "current_rep", "locked", "family", "top_tier",
                   "attributes"),
    "alignment": ("id", "lat", "lon", "measures", "value", "current_rep"),
}
MEASURE_KEYS = {"assignment": ("name", "tolerance", "share_basis", "is_capacity"), "alignment": ("name", "tolerance")}
WEIGHT_KEYS = {"assignment": ("travel", "fit", "disruption"), "alignment": ("disruption",)}
REP_KEYS = ("id", "lat", "lon", "capacity", "level", "experience_years", "skill", "attributes")


class InstanceError(ValueError):
    """An instance file or dict the engine cannot use; the message names the field and the unit or rep."""


def _fail(where: str, message: str) -> NoReturn:
    raise InstanceError(f"{where}: {message}")


def _object(value: Any, where: str, mode: str, allowed: tuple[str, ...], other: tuple[str, ...] = ()) -> dict:
    """`value` as a dict whose keys are all in `allowed`; a key that only `other` (the other mode) allows says so."""
    if not isinstance(value, Mapping):
        _fail(where, f"must be an object, got {_kind(value)}")
    for key in value:
        if key in allowed:
            continue
        if key in other:
            _fail(where, f'"{key}" is not used in {mode} mode')
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f'did you mean "{close[0]}"?' if close else f"expected one of: {', '.join(allowed)}"
        _fail(where, f'unknown key "{key}" ({hint})')
    return dict(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    kinds = {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return kinds.get(type(value), type(value).__name__)


def _number(obj: dict, key: str, where: str, default: float | None, *, low: float = 0.0, high: float = math.inf,
            below_high: bool = False, field: str = "", described: str = "a non-negative number") -> float:
    """obj[key] as a finite float in [low, high] (or [low, high) with below_high); `default` when absent or null."""
    value = obj.get(key)
    name = field or key
    if value is None:
        if default is None:
            _fail(where, f"{name} is required")
        return default
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low <= value <= high) or (below_high and value >= high):
        _fail(where, f"{name} must be {described}, got {json.dumps(value)}")
    return float(value)


def _flag(obj: dict, key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        _fail(where, f"{key} must be true or false, got {json.dumps(value)}")
    return value


def _label(value: Any, where: str, name: str) -> str:
    """An id or attribute value: a non-empty string, or an integer (postal codes are often written as numbers)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        _fail(where, f"{name} must be a non-empty string, got {json.dumps(value)}")
    return str(value)


def _mapping(item: dict, key: str, where: str) -> dict:
    """item[key] as a dict of free keys (attributes), {} when absent."""
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _fail(where, f"{key} must be an object, got {_kind(value)}")
    return dict(value)


def _list(value: Any, where: str, *, non_empty: bool = False) -> list:
    if not isinstance(value, list):
        _fail(where, f"must be a list, got {_kind(value)}")
    if non_empty and not value:
        _fail(where, "must not be empty")
    return value


def _labels(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_label(item, f"{where}[{k}]", "each entry") for k, item in enumerate(_list(value or [], where)))


def _ids(items: list, kind: str) -> tuple[list[str], list[str]]:
    """Each item's id and how to name it in a message (`units[3] (id "A-42")`); ids must be unique."""
    ids, names, first = [], [], {}
    for k, item in enumerate(items):
        where = f"{kind}[{k}]"
        if not isinstance(item, Mapping):
            _fail(where, f"must be an object, got {_kind(item)}")
        if "id" not in item:
            _fail(where, "id is required")
        identity = _label(item["id"], where, "id")
        where = f'{where} (id "{identity}")'
        if identity in first:
            _fail(where, f"duplicate id: {kind}[{first[identity]}] has it too")
        first[identity] = k
        ids.append(identity)
        names.append(where)
    return ids, names


def _measures(raw: Any, mode: str) -> tuple[Measure, ...]:
    other = MEASURE_KEYS["assignment"] if mode == "alignment" else ()
    measures = []
    for k, item in enumerate(_list(raw, "measures", non_empty=True)):
        where = f"measures[{k}]"
        if not isinstance(item, Mapping):
            _fail(where, f"must be an object, got {_kind(item)}")
        if "name" not in item:
            _fail(where, "name is required")
        name = _label(item["name"], where, "name")
        where = f'{where} (name "{name}")'
        item = _object(item, where, mode, MEASURE_KEYS[mode], other)
        if any(m.name == name for m in measures):
            _fail(where, "duplicate measure name")
        tolerance = _number(item, "tolerance", where, 0.05, high=1.0, below_high=True, described="a number in [0, 1)")
        basis = item.get("share_basis", "equal" if mode == "alignment" else "capacity")
        if basis not in SHARE_BASES:
            _fail(where, f"share_basis must be one of {', '.join(SHARE_BASES)}, got {json.dumps(basis)}")
        measures.append(Measure(name, tolerance, basis, _flag(item, "is_capacity", where)))
    return tuple(measures)


def _unit_measures(item: dict, where: str, measures: tuple[Measure, ...]) -> list[float]:
    names = tuple(m.name for m in measures)
    raw = item.get("measures")
    if raw is None:
        _fail(where, f"measures is required (an object with {', '.join(names)})")
    if not isinstance(raw, Mapping):
        _fail(where, f"measures must be an object, got {_kind(raw)}")
    for key in raw:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f'did you mean "{close[0]}"?' if close else f"the measures are {', '.join(names)}"
            _fail(where, f'measures.{key} is not a measure ({hint})')
    return [_number(raw, name, where, None, field=f"measures.{name}") for name in names]


def _coordinates(item: dict, where: str, required: bool) -> tuple[float, float]:
    default = None if required else math.nan
    lat = _number(item, "lat", where, default, low=-90, high=90, described="a latitude in [-90, 90]")
    lon = _number(item, "lon", where, default, low=-180, high=180, described="a longitude in [-180, 180]")
    if math.isnan(lat) != math.isnan(lon):
        _fail(where, "lat and lon must be given together (or both null)")
    return lat, lon


def _adjacency(raw: Any, unit_index: dict[str, int]) -> np.ndarray | None:
    if raw is None:
        return None
    pairs = []
    for k, pair in enumerate(_list(raw, "adjacency")):
        where = f"adjacency[{k}]"
        if not isinstance(pair, list) or len(pair) != 2:
            _fail(where, f"must be a pair of unit ids, got {json.dumps(pair)}")
        ends = [_label(end, where, "a unit id") for end in pair]
        for end in ends:
            if end not in unit_index:
                _fail(where, f'"{end}" is not a unit id')
        pairs.append([unit_index[end] for end in ends])
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _read_assignment(data: dict, measures: tuple[Measure, ...]) -> Instance:
    mode = "assignment"
    raw_units = _list(data.get("units"), "units", non_empty=True)
    raw_reps = _list(data.get("reps"), "reps", non_empty=True)
    unit_ids, unit_names = _ids(raw_units, "units")
    rep_ids, rep_names = _ids(raw_reps, "reps")
    rep_index = {rep: j for j, rep in enumerate(rep_ids)}
    eligibility = _labels(data.get("eligibility"), "eligibility")
    fit_attributes = _labels(data.get("fit_attributes"), "fit_attributes")
    needed = tuple(dict.fromkeys((*eligibility, *fit_attributes)))

    columns: dict[str, list] = {key: [] for key in UNIT_KEYS[mode]}
    families: dict[str, int] = {}
    unit_attributes: list[dict[str, str]] = []
    for item, where in zip(raw_units, unit_names):
        item = _object(item, where, mode, UNIT_KEYS[mode], UNIT_KEYS["alignment"])
        lat, lon = _coordinates(item, where, required=False)
        columns["lat"].append(lat)
        columns["lon"].append(lon)
        columns["measures"].append(_unit_measures(item, where, measures))
        columns["visits"].append(_number(item, "visits", where, 1.0))
        columns["value"].append(_number(item, "value", where, 1.0))
        current = item.get("current_rep")
        if current is not None:
            current = _label(current, where, "current_rep")
            if current not in rep_index:
                _fail(where, f'current_rep "{current}" is not a rep id')
        columns["current_rep"].append(rep_index[current] if current is not None else -1)
        locked = _flag(item, "locked", where)
        if locked and current is None:
            _fail(where, "locked needs a current_rep to keep")
        columns["locked"].append(locked)
        family = item.get("family")
        if family is not None:
            family = families.setdefault(_label(family, where, "family"), len(families))
        columns["family"].append(-1 if family is None else family)
        columns["top_tier"].append(_flag(item, "top_tier", where))
        attributes = {
            key: _label(value, where, f"attributes.{key}") for key, value in _mapping(item, "attributes", where).items()
        }
        for key in needed:
            if key not in attributes:
                _fail(where, f'attributes.{key} is required: "{key}" is used for eligibility or fit')
        unit_attributes.append(attributes)
    keys = tuple(dict.fromkeys(key for attributes in unit_attributes for key in attributes))
    units = Units(
        unit_id=np.array(unit_ids),
        latitude=np.array(columns["lat"]),
        longitude=np.array(columns["lon"]),
        measures=np.array(columns["measures"], dtype=float).reshape(len(raw_units), len(measures)),
        visits=np.array(columns["visits"]),
        value=np.array(columns["value"]),
        current_rep=np.array(columns["current_rep"], dtype=np.int64),
        locked=np.array(columns["locked"], dtype=bool),
        family=np.array(columns["family"], dtype=np.int64),
        top_tier=np.array(columns["top_tier"], dtype=bool),
        attributes={key: np.array([attributes.get(key, "") for attributes in unit_attributes]) for key in keys},
    )
    return Instance(
        units=units,
        reps=_reps(raw_reps, rep_ids, rep_names, measures, units),
        measures=measures,
        weights=_weights(data),
        eligibility=eligibility,
        fit_attributes=fit_attributes,
        top_tier_min_experience=_number(data, "top_tier_min_experience", "instance", 0.0),
        max_moved_share=_share(data, "max_moved_share"),
        max_moved_value_share=_share(data, "max_moved_value_share"),
        adjacency=_adjacency(data.get("adjacency"), {unit: i for i, unit in enumerate(unit_ids)}),
    )


def _share(data: dict, key: str) -> float | None:
    if data.get(key) is None:
        return None
    return _number(data, key, "instance", None, high=1.0, described="a share in [0, 1] or null")


def _weights(data: dict) -> Weights:
    raw = _object(data.get("weights") or {}, "weights", "assignment", WEIGHT_KEYS["assignment"])
    default = Weights()
    return Weights(**{key: _number(raw, key, "weights", getattr(default, key)) for key in WEIGHT_KEYS["assignment"]})


def _reps(
    raw_reps: list, rep_ids: list[str], rep_names: list[str], measures: tuple[Measure, ...], units: Units
) -> Reps:
    capacity_measures = [m.name for m in measures if m.is_capacity]
    columns: dict[str, list] = {key: [] for key in REP_KEYS}
    rep_attributes = []
    for item, where in zip(raw_reps, rep_names):
        item = _object(item, where, "assignment", REP_KEYS)
        lat, lon = _coordinates(item, where, required=False)
        columns["lat"].append(lat)
        columns["lon"].append(lon)
        if capacity_measures and item.get("capacity") is None:
            _fail(where, f'capacity is required: measure "{capacity_measures[0]}" is a capacity measure')
        columns["capacity"].append(_number(item, "capacity", where, 1.0))
        columns["level"].append(_number(item, "level", where, 1.0, described="a positive number"))
        if columns["level"][-1] == 0:
            _fail(where, "level must be a positive number, got 0")
        columns["experience_years"].append(_number(item, "experience_years", where, 0.0))
        columns["skill"].append(_number(item, "skill", where, 1.0, high=1.0, described="a number in [0, 1]"))
        served = {}
        for key, values in _mapping(item, "attributes", where).items():
            if key not in units.attributes:
                _fail(where, f'attributes.{key}: no unit has the attribute "{key}"')
            served[key] = frozenset(_labels(values, f"{where}: attributes.{key}"))
        rep_attributes.append(served)
    attributes = {}
    for key in dict.fromkeys(key for served in rep_attributes for key in served):
        every_value = frozenset(units.attributes[key].tolist())  # a rep without the key serves every value
        attributes[key] = tuple(served.get(key, every_value) for served in rep_attributes)
    return Reps(
        rep_id=np.array(rep_ids),
        latitude=np.array(columns["lat"]),
        longitude=np.array(columns["lon"]),
        capacity=np.array(columns["capacity"]),
        level=np.array(columns["level"]),
        experience_years=np.array(columns["experience_years"]),
        skill=np.array(columns["skill"]),
        attributes=attributes,
    )


def _read_alignment(data: dict, measures: tuple[Measure, ...]) -> AlignmentInstance:
    mode = "alignment"
    raw_units = _list(data.get("units"), "units", non_empty=True)
    unit_ids, unit_names = _ids(raw_units, "units")
    coordinates, amounts, values, labels = [], [], [], []
    for item, where in zip(raw_units, unit_names):
        item = _object(item, where, mode, UNIT_KEYS[mode], UNIT_KEYS["assignment"])
        coordinates.append(_coordinates(item, where, required=True))
        amounts.append(_unit_measures(item, where, measures))
        values.append(_number(item, "value", where, math.nan))  # NaN: not given, worth 1
        current = item.get("current_rep")
        labels.append(None if current is None else _label(current, where, "current_rep"))
    names = _territory_names(data.get("territories"), labels, unit_names)
    index = {name: t for t, name in enumerate(names)}
    named = isinstance(data["territories"], list) or any(label is not None for label in labels)
    weights = _object(data.get("weights") or {}, "weights", mode, WEIGHT_KEYS[mode], WEIGHT_KEYS["assignment"])
    lat, lon = np.array(coordinates, dtype=float).reshape(-1, 2).T
    value = np.array(values)
    return AlignmentInstance(
        unit_id=np.array(unit_ids),
        latitude=lat,
        longitude=lon,
        amounts=np.array(amounts, dtype=float).reshape(len(raw_units), len(measures)),
        measures=measures,
        territories=len(names),
        territory_ids=names if named else (),  # T1..Tp by default
        adjacency=_adjacency(data.get("adjacency"), {unit: i for i, unit in enumerate(unit_ids)}),
        current_territory=None if all(label is None for label in labels) else np.array(
            [-1 if label is None else index[label] for label in labels], dtype=np.int64
        ),
        value=None if np.isnan(value).all() else np.nan_to_num(value, nan=1.0),
        disruption=_number(weights, "disruption", "weights", 0.0),
    )


def _territory_names(raw: Any, labels: list[str | None], unit_names: list[str]) -> tuple[str, ...]:
    """The territory ids: the list given, or p names with the current territories first (sorted), then T1, T2, ..."""
    if raw is None:
        _fail("instance", "territories is required in alignment mode (a count p, or a list of territory ids)")
    current = sorted({label for label in labels if label is not None})
    if isinstance(raw, list):
        names = _labels(raw, "territories")
        if len(set(names)) != len(names):
            _fail("territories", "territory ids must be unique")
        for label, where in zip(labels, unit_names):
            if label is not None and label not in names:
                _fail(where, f'current_rep "{label}" is not one of the territories')
        if not names:
            _fail("territories", "must not be empty")
        return names
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= len(labels):
        _fail("instance", f"territories must be a whole number from 1 to the number of units ({len(labels)}) "
                          f"or a list of territory ids, got {json.dumps(raw)}")
    if len(current) > raw:
        _fail("instance", f"the units name {len(current)} current territories but territories is {raw}")
    names = list(current)
    k = 0
    while len(names) < raw:
        k += 1
        if f"T{k}" not in names:
            names.append(f"T{k}")
    return tuple(names)


def _parse(path: Path) -> dict:
    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        for key in keys:
            if keys.count(key) > 1:
                raise InstanceError(f'{path}: key "{key}" appears twice in one object')
        return dict(pairs)

    def no_constant(name):
        raise InstanceError(f"{path}: {name} is not a number in JSON")

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstanceError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InstanceError(f"{path}: cannot be read ({error})") from None
    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise InstanceError(f"{path}: not valid JSON: {error.msg} at {where}") from None


def read_instance(source: str | Path | Mapping) -> Instance | AlignmentInstance:
    """An instance from a JSON file (a path) or an already parsed dict; `InstanceError` if it is not valid."""
    data = source if isinstance(source, Mapping) else _parse(Path(source))
    if not isinstance(data, Mapping):
        raise InstanceError(f"an instance must be a JSON object, got {_kind(data)}")
    mode = data.get("mode", "assignment")
    if mode not in TOP_KEYS:
        _fail("instance", f'mode must be "assignment" or "alignment", got {json.dumps(mode)}')
    other = TOP_KEYS["assignment" if mode == "alignment" else "alignment"]
    data = _object(data, "instance", mode, TOP_KEYS[mode], other)
    if data.get("format") != FORMAT:
        _fail("instance", f'format must be "{FORMAT}", got {json.dumps(data.get("format"))}')
    measures = _measures(data.get("measures"), mode)
    try:
        if mode == "alignment":
            return _read_alignment(data, measures)
        return _read_assignment(data, measures)
    except InstanceError:
        raise
    except ValueError as error:  # a rule the dataclasses check and the reader does not repeat
        raise InstanceError(f"instance: {error}") from error


def _float(value: float) -> float | None:
    """JSON has no NaN or infinity: they become null."""
    return float(value) if math.isfinite(value) else None


def _coordinate(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def write_instance(instance: Instance | AlignmentInstance) -> dict:
    """The instance as a `territory-instance/1` dict (json.dump it); `read_instance` reads it back."""
    if isinstance(instance, AlignmentInstance):
        return _write_alignment(instance)
    units, reps = instance.units, instance.reps
    names = [m.name for m in instance.measures]
    rep_ids = reps.rep_id.astype(str).tolist()
    unit_list = []
    for i in range(units.count):
        unit = {
            "id": str(units.unit_id[i]),
            "lat": _coordinate(units.latitude[i]),
            "lon": _coordinate(units.longitude[i]),
            "measures": dict(zip(names, units.measures[i].tolist())),
            "visits": float(units.visits[i]),
            "value": float(units.value[i]),
            "current_rep": rep_ids[units.current_rep[i]] if units.current_rep[i] >= 0 else None,
            "locked": bool(units.locked[i]),
            "family": str(units.family[i]) if units.family[i] >= 0 else None,
            "top_tier": bool(units.top_tier[i]),
        }
        if units.attributes:
            unit["attributes"] = {key: str(values[i]) for key, values in units.attributes.items()}
        unit_list.append(unit)
    rep_list = []
    for j in range(reps.count):
        rep = {
            "id": rep_ids[j],
            "lat": _coordinate(reps.latitude[j]),
            "lon": _coordinate(reps.longitude[j]),
            "capacity": float(reps.capacity[j]),
            "level": float(reps.level[j]),
            "experience_years": float(reps.experience_years[j]),
            "skill": float(reps.skill[j]),
        }
        if reps.attributes:
            rep["attributes"] = {key: sorted(served[j]) for key, served in reps.attributes.items()}
        rep_list.append(rep)
    return {
        "format": FORMAT,
        "mode": "assignment",
        "measures": [
            {"name": m.name, "tolerance": m.tolerance, "share_basis": m.share_basis, "is_capacity": m.is_capacity}
            for m in instance.measures
        ],
        "weights": {key: getattr(instance.weights, key) for key in WEIGHT_KEYS["assignment"]},
        "eligibility": list(instance.eligibility),
        "fit_attributes": list(instance.fit_attributes),
        "top_tier_min_experience": instance.top_tier_min_experience,
        "max_moved_share": instance.max_moved_share,
        "max_moved_value_share": instance.max_moved_value_share,
        "units": unit_list,
        "reps": rep_list,
        "adjacency": _write_adjacency(instance.adjacency, units.unit_id),
    }


def _write_adjacency(adjacency: np.ndarray | None, unit_id: np.ndarray) -> list | None:
    if adjacency is None:
        return None
    return [[str(unit_id[a]), str(unit_id[b])] for a, b in np.asarray(adjacency).reshape(-1, 2).tolist()]


def _write_alignment(instance: AlignmentInstance) -> dict:
    names = [m.name for m in instance.measures]
    current, value = instance.current_territory, instance.value
    unit_list = []
    for i in range(instance.count):
        unit = {
            "id": str(instance.unit_id[i]),
            "lat": float(instance.latitude[i]),
            "lon": float(instance.longitude[i]),
            "measures": dict(zip(names, instance.amounts[i].tolist())),
        }
        if value is not None:
            unit["value"] = float(value[i])
        if current is not None and current[i] >= 0:
            unit["current_rep"] = instance.names[current[i]]
        unit_list.append(unit)
    return {
        "format": FORMAT,
        "mode": "alignment",
        "measures": [{"name": m.name, "tolerance": m.tolerance} for m in instance.measures],
        "weights": {"disruption": instance.disruption},
        "territories": list(instance.territory_ids) if instance.territory_ids else instance.territories,
        "units": unit_list,
        "adjacency": _write_adjacency(instance.adjacency, instance.unit_id),
    }


def _by_measure(names: list[str], row: np.ndarray) -> dict[str, float | None]:
    return {name: _float(x) for name, x in zip(names, row.tolist())}


def _band_json(names: list[str], lower: np.ndarray, upper: np.ndarray) -> dict[str, list[float | None]]:
    return {name: [_float(lo), _float(hi)] for name, lo, hi in zip(names, lower.tolist(), upper.tolist())}


def _diagnosis(bindings) -> list[dict]:
    return [
        {"kind": b.kind, "pool": b.pool, "measure": b.measure, "shortfall": _float(b.shortfall),
         "message": b.message, "reps_to_hire": _float(b.reps_to_hire)}
        for b in bindings
    ]


def solution_to_json(instance: Instance | AlignmentInstance, solution: Solution | AlignmentResult) -> dict:
    """The answer as a `territory-solution/1` dict: per unit, per rep (or territory), a summary, the diagnosis."""
    if isinstance(instance, AlignmentInstance):
        return _alignment_to_json(instance, solution)
    names = [m.name for m in instance.measures]
    rep_ids = instance.reps.rep_id.astype(str).tolist()
    planned = solution.feasible
    units = [
        {"unit_id": str(unit_id), "rep_id": rep_ids[rep] if planned else None,
         **{term: _float(x) for term, x in zip(COST_TERMS, terms)}}
        for unit_id, rep, terms in zip(
            instance.units.unit_id.tolist(), solution.rep.tolist(), solution.cost_terms.tolist()
        )
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(solution.fair_share > 0, solution.totals / solution.fair_share - 1.0, 0.0)
    reps = [
        {
            "rep_id": rep_ids[j],
            "totals": _by_measure(names, solution.totals[j]) if planned else None,
            "fair_share": _by_measure(names, solution.fair_share[j]),
            "band": _band_json(names, solution.lower[j], solution.upper[j]),
            "deviation": _by_measure(names, deviation[j]) if planned else None,
        }
        for j in range(instance.reps.count)
    ]
    summary = {
        "status": solution.status,
        "objective": _float(solution.objective),
        "lower_bound": _float(solution.lower_bound),
        "gap": _float(solution.gap),
        "max_deviation": {name: _float(x) for name, x in solution.max_deviation.items()},
        "moved_share": _float(solution.moved_share),
        "moved_value_share": _float(solution.moved_value_share),
        "seconds": solution.seconds,
        "peak_memory_mb": solution.peak_memory_mb,
    }
    return {"format": SOLUTION_FORMAT, "mode": "assignment", "summary": summary, "units": units, "reps": reps,
            "diagnosis": _diagnosis(solution.diagnosis)}


def _alignment_to_json(instance: AlignmentInstance, result: AlignmentResult) -> dict:
    names = [m.name for m in instance.measures]
    territory_ids = instance.names
    planned = bool(np.all(result.territory >= 0))
    if planned:
        centre = result.centres[result.territory]
        distance = haversine_km(instance.latitude, instance.longitude,
                                instance.latitude[centre], instance.longitude[centre])
        weighted = dispersion_weights(instance.amounts) * distance
        current = instance.current
        units = [
            {"unit_id": str(instance.unit_id[i]), "territory": territory_ids[result.territory[i]],
             "distance_km": float(distance[i]), "dispersion": float(weighted[i]),
             "moved": bool(current[i] >= 0 and current[i] != result.territory[i])}
            for i in range(instance.count)
        ]
    else:  # no plan: the units are listed without a territory, as in assignment mode
        units = [{"unit_id": str(unit_id), "territory": None, "distance_km": None, "dispersion": None, "moved": None}
                 for unit_id in instance.unit_id.tolist()]
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(result.fair_share > 0, result.totals / result.fair_share - 1.0, 0.0)
    counts = np.bincount(result.territory, minlength=instance.territories) if planned else [0] * instance.territories
    territories = [
        {
            "territory": territory_ids[t],
            "centre": str(instance.unit_id[result.centres[t]]) if planned else None,
            "units": int(counts[t]),
            "totals": _by_measure(names, result.totals[t]) if planned else None,
            "fair_share": _by_measure(names, result.fair_share),
            "band": _band_json(names, result.lower[t], result.upper[t]),
            "deviation": _by_measure(names, deviation[t]) if planned else None,
        }
        for t in range(instance.territories)
    ]
    summary = {
        "status": result.status,
        "objective": _float(result.objective),
        "dispersion": _float(result.dispersion),
        "disruption": _float(result.disruption_cost),
        "lower_bound": _float(result.lower_bound),
        "gap": _float(result.gap),
        "max_deviation": {name: _float(x) for name, x in result.max_deviation.items()},
        "contiguous": result.contiguous,
        "moved_share": _float(result.moved_share),
        "rounds": result.rounds,
        "seconds": result.seconds,
        "peak_memory_mb": result.peak_memory_mb,
    }
    return {"format": SOLUTION_FORMAT, "mode": "alignment", "summary": summary, "units": units,
            "territories": territories, "diagnosis": _diagnosis(result.diagnosis)}
