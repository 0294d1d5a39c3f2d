"""What every part of the packaging shares: the template type, its error, and the few
CloudFormation building blocks they all use."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
Template = dict[str, Any]
STAGES = ("dev", "prod")
DECLARATIONS = "the service's infra.py"


class PackagingError(Exception):
    """The declarations and the app disagree; the message says what to fix."""


def load_yaml(path: Path) -> Any:
    with path.open() as handle:
        return yaml.safe_load(handle)


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Chalice's merge semantics, in place: dicts merge, anything else replaces."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}
