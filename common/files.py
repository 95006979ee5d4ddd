"""Files every run writes: atomically (a temporary file in the same folder, then a rename), into a
report folder that only one run at a time may hold (``ReportFolder``).

A crash or Ctrl-C never leaves a half-written file, and two runs into one folder never leave a
mix of both runs' files: the second stops at once with an error that says who holds the folder.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common.errors import UserError

try:  # POSIX; elsewhere the folder lock is skipped and the write-then-rename alone keeps files whole
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

_UMASK = os.umask(0o022)
os.umask(_UMASK)
LOCK_NAME = ".lock"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename. A path that exists as something other
    than a file (a folder, a device such as /dev/null) is refused: the rename would replace it."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise UserError(f"{path} exists and is not a file; give a file's path (the write would replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value):
    """Convert numpy scalars/arrays, tuples and Paths inside ``value`` to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN/inf
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")


def atomic_write_npz(path: Path, run_id: str | None = None, **arrays: np.ndarray) -> None:
    """Arrays to a .npz file (uncompressed), written then renamed; ``run_id`` is stamped in as an array."""
    import io
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **({RUN_ID: np.array(run_id)} if run_id else {}))
    atomic_write_bytes(path, buffer.getvalue())


# ----------------------------------------------------------------------------- one run's files

# Every file a run writes carries its run id (metrics.json's "run_id"): an array in .npz files, a text
# chunk in PNG figures, a first-line comment in markdown. metrics.json is the run's record; a file of
# the folder with another id was left by another run (one killed between its files), and readers
# refuse to mix it in.
RUN_ID = "run_id"
_MD_STAMP = "<!-- run_id: {} -->\n"


def stamp_markdown(text: str, run_id: str | None) -> str:
    """``text`` with the run id as an invisible first line (no id: unchanged)."""
    return _MD_STAMP.format(run_id) + text if run_id else text


def run_id_of(path: Path) -> str | None:
    """The run id stamped into ``path`` (.npz, .png, .md, .json), or None when it carries none."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return str(archive[RUN_ID]) if RUN_ID in archive.files else None
        if path.suffix == ".png":
            from PIL import Image
            with Image.open(path) as image:
                return image.text.get(RUN_ID)
        if path.suffix == ".md":
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
            prefix, suffix = _MD_STAMP.split("{}")
            return first[len(prefix):-len(suffix.rstrip())] if first.startswith(prefix) else None
        if path.suffix == ".json":
            return json.loads(path.read_text()).get(RUN_ID)
    except (OSError, ValueError, KeyError):
        return None
    return None


def files_of_other_runs(folder: Path, run_id: str, names) -> list[str]:
    """Those of ``names`` (files under ``folder``) that exist and were not written by run ``run_id``."""
    return [name for name in names if (Path(folder) / name).is_file() and run_id_of(Path(folder) / name) != run_id]


def load_run_arrays(path: Path, run_id: str | None) -> dict[str, np.ndarray]:
    """The arrays of ``path``, refused (UserError) when they were written by another run than ``run_id``."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    found = str(arrays.pop(RUN_ID)) if RUN_ID in arrays else None
    if run_id is not None and found != run_id:
        raise UserError(f"{path} was written by run {found or '(unstamped)'}, not by run {run_id} whose "
                        f"metrics.json is beside it: a run was stopped between its files. Rerun the part.")
    return arrays


def ensure_writable(folder: Path) -> Path:
    """Create ``folder`` and prove it is writable, before any training starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"cannot write reports to {folder} ({error.strerror}); choose another "
                        f"folder with --out or fix its permissions.") from None
    return folder


class ReportFolder:
    """Hold a report folder for the length of a run: ``with ReportFolder(out) as out: ...``.

    Creates the folder, proves it writable and takes an exclusive lock on ``<folder>/.lock``
    without waiting. A folder another run holds raises UserError naming that run. The lock is
    the operating system's, so a run that dies releases it with its process.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._file = None

    def __enter__(self) -> Path:
        ensure_writable(self.folder)
        lock_path = self.folder / LOCK_NAME
        self._file = open(lock_path, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.seek(0)
                holder = self._file.read().strip() or "another process"
                self._file.close()
                self._file = None
                raise UserError(f"{self.folder} is in use by another run ({holder}); wait for it to finish, or "
                                f"write this run elsewhere with --out.") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()}: {' '.join(sys.argv[:4])[:120]}, since {time.strftime('%H:%M:%S')}")
        self._file.flush()
        return self.folder

    def __exit__(self, *exc) -> bool:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            if fcntl is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        return False
