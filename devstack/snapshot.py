"""The embedded AWS's state on disk: every moto backend in use, pickled.

moto keeps its state in plain Python objects (one backend per service, account and
region), so a pickle of them restores tables, items and streams, queues and their
messages, topics and subscriptions, the user pool with its users and client, buckets:
with the same ids and ARNs, so tokens and .tandem/local.json stay valid. moto has no
persistence of its own (docs/decisions.md says why this and not a second store).

A few objects in moto's backends cannot be pickled as they are (locks, RSA keys); they
are rebuilt on load. A service that still fails is left out of the file with a warning
rather than losing every other service's state. The file is written whole and then
renamed, so a crash while saving leaves the previous state.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

FORMAT = 1


class StateError(Exception):
    """The saved state cannot be used; the message says what to do."""


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _load_public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


class _Pickler(pickle.Pickler):
    _lock_types = (type(threading.Lock()), type(threading.RLock()))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._lock_types):
            # Nobody holds a lock of a saved state: a new one is the same.
            return type(obj), ()
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if isinstance(obj, rsa.RSAPrivateKey):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _load_private_key, (pem,)
        if isinstance(obj, rsa.RSAPublicKey):
            pem = obj.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _load_public_key, (pem,)
        return NotImplemented


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _backend_dicts() -> dict[tuple[str, str], Any]:
    """(module, variable) -> the module-level BackendDict, for every service moto used."""
    from moto.core.base_backend import BackendDict

    found: dict[tuple[str, str], Any] = {}
    for backend_dict in list(BackendDict._instances):  # type: ignore[misc]
        module = sys.modules[backend_dict.backend.__module__]
        for name, value in vars(module).items():
            if value is backend_dict:
                found[(module.__name__, name)] = backend_dict
    return found


def _forget_shard_iterators() -> None:
    """Shard iterators are not state: the pump asks for new ones at start. Each one also
    refers to its table, which would pickle every table a second time with the streams."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    for regions in dynamodbstreams_backends.values():
        for backend in regions.values():
            backend.shard_iterators.clear()
            vars(backend).pop("_tandem_issued_at", None)


def save(path: Path, pump: dict[str, Any]) -> int:
    """Writes the state of every backend and the pump positions; the file's size."""
    from .moto_fixes import dynamodb

    services: dict[tuple[str, str], bytes] = {}
    with dynamodb.exclusive():
        _forget_shard_iterators()
        for key, backend_dict in _backend_dicts().items():
            backends = {account: dict(regions.items()) for account, regions in backend_dict.items()}
            try:
                services[key] = _dumps(backends)
            except Exception as error:  # one service's state must not cost the others'
                print(f"devstack: not saved: {key[0]}: {error!r}", file=sys.stderr)
    state = {"format": FORMAT, "moto": _moto_version(), "services": services, "pump": pump}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with partial.open("wb") as out:
        pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    return path.stat().st_size


def restore(path: Path) -> dict[str, Any]:
    """Puts the saved backends in place of moto's empty ones; the saved pump positions."""
    fresh = "start from scratch with `make run FRESH=1`"
    try:
        with path.open("rb") as source:
            state = pickle.load(source)
    except Exception as error:
        raise StateError(f"cannot read the saved state {path} ({error!r}); {fresh}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StateError(f"{path} is not a state this version writes; {fresh}")
    if state["moto"] != _moto_version():
        raise StateError(
            f"{path} was saved by moto {state['moto']}, this is moto {_moto_version()}; {fresh}"
        )
    for (module_name, name), data in state["services"].items():
        try:
            backend_dict = getattr(importlib.import_module(module_name), name)
            backends = pickle.loads(data)
        except Exception as error:
            raise StateError(
                f"cannot restore {module_name} from {path} ({error!r}); {fresh}"
            ) from None
        for account, regions in backends.items():
            target = backend_dict[account]
            for region, backend in regions.items():
                dict.__setitem__(target, region, backend)
    pump: dict[str, Any] = state.get("pump") or {}
    return pump
