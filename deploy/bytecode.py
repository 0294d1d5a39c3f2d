"""Bytecode in the deployment zip, so that a cold start does not compile the app and its
libraries on every new Lambda instance.

Chalice's zip has no `.pyc`. /var/task is read-only, so Python compiles every module in
memory at each cold start and can keep nothing; and a timestamp-checked `.pyc` would be
useless anyway, because the zip's timestamps are not the ones a `.pyc` records. So each
`.py` gets a `__pycache__/<name>.cpython-XY.pyc` compiled with
`--invalidation-mode unchecked-hash` semantics: Python loads it without looking at the
source. The zip is immutable once deployed, so nothing can make it stale. It must be
compiled by the Python version of the Lambda runtime (a different version's `.pyc` is
ignored, a cost without harm), which `compile_zip` checks.
"""

from __future__ import annotations

import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the path tracebacks show


def runtime_tag() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def compile_zip(path: Path, runtime: str) -> int:
    """Adds unchecked-hash bytecode for every module in the zip at `path`, in place;
    returns how many modules were compiled."""
    if runtime != runtime_tag():
        raise ValueError(
            f"the functions run {runtime}, this is {runtime_tag()}: its bytecode would be "
            "ignored; package with the runtime's Python"
        )
    tag = sys.implementation.cache_tag
    compiled = 0
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out.zip"
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            names = set(source.namelist())
            for info in source.infolist():
                data = source.read(info)
                target.writestr(info, data)
                name = info.filename
                if not name.endswith(".py") or info.is_dir():
                    continue
                folder, _, module = name.rpartition("/")
                pyc_name = f"{folder + '/' if folder else ''}__pycache__/{module[:-3]}.{tag}.pyc"
                if pyc_name in names:
                    continue
                file = Path(scratch) / "src.py"
                file.write_bytes(data)
                pyc = Path(scratch) / "out.pyc"
                try:
                    py_compile.compile(
                        str(file),
                        cfile=str(pyc),
                        dfile=f"{TASK_ROOT}/{name}",
                        doraise=True,
                        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                    )
                except py_compile.PyCompileError:
                    continue  # not this version's syntax (a vendored file never imported)
                pyc_info = zipfile.ZipInfo(pyc_name, date_time=info.date_time)
                pyc_info.external_attr = info.external_attr
                pyc_info.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(pyc_info, pyc.read_bytes())
                compiled += 1
        out.replace(path)
    return compiled
