"""CIFAR-10 as uint8 arrays: find a source, read any accepted format, cache it once.

``load_cifar10()`` is the only entry point the parts need. Where it looks, in order, is
``SOURCE_ORDER`` below (the command-line help and the error messages print it from there).

Accepted formats: the official ``cifar-10-python.tar.gz``, its extracted ``cifar-10-batches-py/``
folder, and an image-folder tree ``train/<class>/*`` + ``test/<class>/*`` (optionally under one
top folder) given as a folder, a .zip or a .tar/.tar.gz.

The official batches are pickles, and a pickle can run code. They are read with an unpickler that
admits only the numpy array reconstruction the format needs, so a data file can never run code.

The first load converts the source into ``<data dir>/cache/cifar10-<source key>.npz`` (uint8,
uncompressed, checksummed); later loads read that in well under a second. The source key covers the
source's path, sizes and modification times, so a changed (or copied, touched, remounted) source is
converted again, and its earlier cache removed. The data set's fingerprint, which runs record and resumes check, is a hash of the
decoded images and labels themselves: the same images give the same fingerprint wherever they were
read from, so a remounted copy of the data never makes a checkpoint look like another data set's.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import re
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from common.errors import DataError
from common.paths import data_dir as default_data_dir
from common.paths import keras_datasets_dir

try:  # POSIX; on other systems the write-then-rename alone keeps the cache whole
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CLASS_NAMES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer",
                                "dog", "frog", "horse", "ship", "truck")
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_TARBALL = "cifar-10-python.tar.gz"
OFFICIAL_SIZE = "170 MB"  # the official tarball's size, as the messages say it
BATCHES_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
IMAGE_SHAPE = (32, 32, 3)
N_TRAIN, N_TEST = 50_000, 10_000

log = logging.getLogger("cifar")
CACHE_FORMAT_VERSION = 2  # 2: the fingerprint hashes the images, the file name the source
SOURCE_ORDER = ("--data PATH, or $CIFAR10_SOURCE",
                "the data folder data/ ($CIFAR10_DATA_DIR): cifar-10-python.tar.gz or cifar-10-batches-py/ "
                "placed there, or the cache of an earlier run",
                "Keras' cache, ~/.keras/datasets/cifar-10-batches-py ($KERAS_HOME)",
                f"the official download ({OFFICIAL_SIZE}, md5-checked before use; $CIFAR10_URL for a mirror)")


@dataclass(frozen=True)
class Cifar10:
    """The data set. Images (N, 32, 32, 3) uint8 RGB; labels (N,) int64 in [0, 10)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    fingerprint: str = ""  # of the images and labels (see content_fingerprint): tells runs on other data apart


# ----------------------------------------------------------------------------- where to look

def _how_to_provide(data_dir: Path) -> str:
    return (f"Provide the data in one of these ways: pass --data PATH or set CIFAR10_SOURCE to the "
            f"official {OFFICIAL_TARBALL}, its extracted {BATCHES_FOLDER}/ folder or an image-folder "
            f"tree (train/<class>/, test/<class>/; folder, .zip or .tar.gz); or place "
            f"{OFFICIAL_TARBALL} in {data_dir}/; or have Keras' cache in {keras_datasets_dir()}/.")


def source_order_text() -> str:
    """``SOURCE_ORDER`` as one line, for help texts."""
    return "; ".join(f"{i}. {place}" for i, place in enumerate(SOURCE_ORDER, 1))


def searched_places(data_dir: Path) -> str:
    """Where ``load_cifar10`` looks when no source is given, in order, for error messages."""
    keras = keras_datasets_dir()
    return (f"$CIFAR10_SOURCE (not set), {data_dir / OFFICIAL_TARBALL}, {data_dir / BATCHES_FOLDER}/, "
            f"{data_dir / 'cache'}/, {keras / BATCHES_FOLDER}/, {keras / BATCHES_FOLDER}.tar.gz")


def find_local_source(data_dir: Path) -> Path | None:
    """The first local source in the documented order after an explicit one, or None."""
    for candidate in (data_dir / OFFICIAL_TARBALL, data_dir / BATCHES_FOLDER):
        if candidate.exists():
            return candidate
    cached = newest_usable_cache(data_dir)
    if cached is not None:
        return cached
    keras = keras_datasets_dir()
    for candidate in (keras / BATCHES_FOLDER, keras / f"{BATCHES_FOLDER}.tar.gz"):
        if candidate.exists():
            return candidate
    return None


# ----------------------------------------------------------------------------- entry point

def load_cifar10(source: str | os.PathLike | None = None, *, data_dir: Path | None = None,
                 download: bool = True, url: str | None = None, md5: str = OFFICIAL_MD5,
                 progress: bool = True) -> Cifar10:
    """Load CIFAR-10 from the first available source (see the module docstring).

    Args:
        source: explicit source path; None means ``$CIFAR10_SOURCE`` or the search order.
        data_dir: downloads and caches; default ``default_data_dir()``.
        download: allow the official download when nothing local is found.
        url: download address (default ``$CIFAR10_URL`` or the official one); the bytes must
            still match ``md5``.
        md5: expected md5 of the official tarball.
        progress: show progress bars while downloading and converting.
    Raises:
        DataError: nothing found, download failed, or the source is corrupt or malformed.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    path = locate_source(source, data_dir)
    if path is None:
        if not download:
            raise DataError(f"no CIFAR-10 data found (looked at {searched_places(data_dir)}). "
                            + _how_to_provide(data_dir))
        path = data_dir / OFFICIAL_TARBALL
        download_official(path, url=url or os.environ.get("CIFAR10_URL") or OFFICIAL_URL,
                          md5=md5, progress=progress, searched=searched_places(data_dir))
    if _is_cache_file(path, data_dir):
        dataset = read_cache(path)
        if dataset is None:
            raise DataError(f"{path} is not a valid cache; delete it and run again.")
        return dataset
    return _load_through_cache(path, data_dir, md5=md5, progress=progress)


def locate_source(source: str | os.PathLike | None = None, data_dir: Path | None = None) -> Path | None:
    """The path ``load_cifar10`` would read, without reading it; None when it would download.

    Raises DataError for an explicit source (``source`` or ``$CIFAR10_SOURCE``) that does not exist.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    origin = "--data"
    if source is None and os.environ.get("CIFAR10_SOURCE"):
        source, origin = os.environ["CIFAR10_SOURCE"], "CIFAR10_SOURCE"
    if source is None:
        return find_local_source(data_dir)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{path} (from {origin}) does not exist. " + _how_to_provide(data_dir))
    return path


def data_fingerprint(source: str | os.PathLike | None = None, data_dir: Path | None = None) -> str | None:
    """The fingerprint the data set ``load_cifar10(source)`` returns will carry, found cheaply (from
    its cache's header, no decoding); None when nothing local is found or it has no cache yet."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    path = locate_source(source, data_dir)
    if path is None:
        return None
    cache = path if _is_cache_file(path, data_dir) else _cache_path(data_dir, source_key(path))
    meta = _read_meta(cache)
    return meta.get("fingerprint") if meta and meta.get("version") == CACHE_FORMAT_VERSION else None


FIRST_LOAD_SAMPLE = 600  # images a first-load estimate reads and decodes (a 32x32 JPEG: about 0.3 ms)
WRITE_SAMPLE_IMAGES = 4_000  # images' worth of arrays it hashes, checksums and writes as the cache would


def first_load_seconds(source: str | os.PathLike | None = None, data_dir: Path | None = None,
                       sample: int = FIRST_LOAD_SAMPLE) -> float | None:
    """Seconds ``load_cifar10(source)`` would spend converting its source into the cache before it returns:
    0.0 when a usable cache exists; None when it would download first (a network's speed is not known here).

    Timed, not guessed: the source's first ``sample`` images read and decoded as the conversion does (an official
    batch counts as its 10,000 images), and the cache's hashing, checksum and writing on WRITE_SAMPLE_IMAGES images'
    worth of arrays, each scaled to CIFAR-10's 60,000 images. Decoding 60,000 JPEGs dominates: about half a minute
    on a 2-core CPU, longer than a short run's training."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    path = locate_source(source, data_dir)
    if path is None:
        return None
    if data_fingerprint(path, data_dir) is not None:  # its cache's header is there: nothing to convert
        return 0.0
    images, start = 0, time.perf_counter()
    try:
        with _reading(path):
            for name, member in _members(path):  # the members the conversion reads, picked by its rules
                base = name.rsplit("/", 1)[-1]
                if base in TRAIN_BATCHES or base == TEST_BATCH:
                    images += len(_batch_arrays(path, name, safe_unpickle(_content(member), f"{path} ({name})"))[0])
                elif _in_image_folders(name):
                    _decode_image(path, name, member)
                    images += 1
                if images >= sample:
                    break
    except DataError:
        return 0.0  # a source the conversion rejects: the load stops at once, and says why
    if images == 0:
        return 0.0  # nothing it could convert: likewise
    reading = (time.perf_counter() - start) * (N_TRAIN + N_TEST) / images
    return reading + _cache_writing_seconds() * (N_TRAIN + N_TEST) / WRITE_SAMPLE_IMAGES


def _cache_writing_seconds() -> float:
    """Seconds ``write_cache`` takes for WRITE_SAMPLE_IMAGES images (hashes and file), in a scratch folder."""
    pixels = np.random.default_rng(0).integers(0, 256, (WRITE_SAMPLE_IMAGES, *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.arange(WRITE_SAMPLE_IMAGES) % len(CLASS_NAMES)
    half = WRITE_SAMPLE_IMAGES // 2
    sample = Cifar10(pixels[:half], labels[:half], pixels[half:], labels[half:], CLASS_NAMES, "timing sample")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write_cache(Path(folder) / "sample.npz", sample, "timing")
        return time.perf_counter() - start


def _is_cache_file(path: Path, data_dir: Path) -> bool:
    return path.suffix == ".npz" and path.parent == data_dir / "cache"


def _cache_path(data_dir: Path, key: str) -> Path:
    return data_dir / "cache" / f"cifar10-{key}.npz"


def _load_through_cache(path: Path, data_dir: Path, *, md5: str, progress: bool) -> Cifar10:
    key = source_key(path)
    cache_path = _cache_path(data_dir, key)
    dataset = read_cache(cache_path, expected_source_key=key)
    if dataset is not None:
        return dataset
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create the cache folder {cache_path.parent} ({error.strerror}); "
                        f"set CIFAR10_DATA_DIR to a writable folder.") from None
    with _exclusive_lock(cache_path.with_suffix(".lock")):
        # Another process may have built it while we waited for the lock.
        dataset = read_cache(cache_path, expected_source_key=key)
        if dataset is not None:
            return dataset
        if path.is_file() and path.name == OFFICIAL_TARBALL:
            verify_md5(path, md5)
        log.info("converting %s into the cache %s (first load only)", path, cache_path)
        dataset = read_source(path, progress=progress)
        dataset = replace(dataset, fingerprint=content_fingerprint(dataset))
        write_cache(cache_path, dataset, key)
    _remove_superseded_caches(cache_path.parent, path.resolve())
    return dataset


def _remove_superseded_caches(cache_folder: Path, source: Path) -> list[Path]:
    """Delete the stale caches of ``source`` (a resolved path, as caches record it) in ``cache_folder``, with their
    lock files, and return them: those whose key no longer matches the source as it is now (an older size or
    modification time). Nothing can read them again: a load of that path asks for its current key, and ``newest_usable_cache``
    skips them as stale. Without this a source that is copied afresh now and then (a remounted share, a
    re-downloaded file) leaves 185 MB behind each time."""
    if not source.exists():
        return []
    current_key = source_key(source)  # now, not the caller's: a conversion that raced a change never deletes the newer
    removed = []
    for other in sorted(cache_folder.glob("cifar10-*.npz")):
        other_meta = _read_meta(other)
        if other_meta is None or other_meta.get("source") != str(source) or \
                other_meta.get("source_key") == current_key:
            continue  # another source's, the current one, or unreadable: not ours to judge
        try:  # a reader holding it open keeps its copy until it closes it
            size = other.stat().st_size
            other.unlink()
        except OSError:
            continue
        with contextlib.suppress(OSError):  # held open elsewhere (Windows): an empty lock file is harmless
            other.with_suffix(".lock").unlink(missing_ok=True)
        removed.append(other)
        log.info("removed %s (%.0f MB), an earlier conversion of %s", other, size / 1e6, source)
    return removed


# ----------------------------------------------------------------------------- download

def download_official(dest: Path, *, url: str = OFFICIAL_URL, md5: str = OFFICIAL_MD5,
                      progress: bool = True, timeout: float = 30.0, searched: str | None = None) -> Path:
    """Download the official tarball to ``dest``, verifying its md5 before keeping it.

    The bytes go to ``dest.part`` first; on any failure that file is removed.
    """
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}",
                      disable=not progress) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != md5:
            raise DataError(f"the download from {url} has md5 {digest.hexdigest()}, expected {md5}: "
                            f"it is corrupt or not the official archive, and was deleted. Run again, "
                            f"or download it yourself and pass --data PATH.")
        os.replace(partial, dest)
    except (TimeoutError, urllib.error.URLError, ConnectionError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        looked = f" (looked at {searched})" if searched else ""
        raise DataError(f"no local CIFAR-10 data found{looked} and the download from {url} failed ({reason}). "
                        + _how_to_provide(dest.parent)) from None
    finally:
        partial.unlink(missing_ok=True)
    return dest


def verify_md5(path: Path, expected: str) -> None:
    """Refuse a file claiming to be the official tarball whose md5 differs."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise DataError(f"{path} has md5 {digest.hexdigest()}, but the official {OFFICIAL_TARBALL} "
                        f"has {expected}: the file is corrupt or incomplete. Download it again "
                        f"(delete it and rerun), or rename it if it is a custom archive.")


# ----------------------------------------------------------------------------- cache

def source_key(path: Path) -> str:
    """A short hash of the source's resolved path, sizes and modification times: names its cache file,
    so that a changed source is converted again (cheap: no file is read)."""
    digest = hashlib.sha256(f"cifar10-cache-v{CACHE_FORMAT_VERSION}".encode())
    path = path.resolve()
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                stat = os.stat(os.path.join(root, name))
                rel = os.path.relpath(os.path.join(root, name), path)
                digest.update(f"{rel}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    else:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update(str(path).encode())
    return digest.hexdigest()[:16]


def content_fingerprint(dataset: Cifar10) -> str:
    """A short hash of the images, labels and class names: the identity of the data a run trained on."""
    digest = hashlib.sha256(b"cifar10-images-v1")
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    digest.update("|".join(dataset.class_names).encode())
    return digest.hexdigest()[:16]


def _checksum(arrays: Iterable[np.ndarray]) -> int:
    crc = 0
    for array in arrays:
        crc = zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"), crc)
    return crc


def write_cache(cache_path: Path, dataset: Cifar10, key: str) -> None:
    """Write the cache atomically: to a temporary file in the same folder, then rename. ``key`` is the
    source's (``source_key``); the data set's own fingerprint goes in beside it."""
    arrays = (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
    meta = {"version": CACHE_FORMAT_VERSION, "source_key": key,
            "fingerprint": dataset.fingerprint or content_fingerprint(dataset), "source": dataset.source,
            "class_names": list(dataset.class_names), "crc32": _checksum(arrays),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    temporary = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            np.savez(file, x_train=dataset.x_train, y_train=dataset.y_train, x_test=dataset.x_test,
                     y_test=dataset.y_test, meta=np.array(json.dumps(meta)))
        os.replace(temporary, cache_path)
    except OSError as error:
        raise DataError(f"cannot write the cache {cache_path} ({error.strerror}); "
                        f"set CIFAR10_DATA_DIR to a writable folder with ~200 MB free.") from None
    finally:
        temporary.unlink(missing_ok=True)


def _read_meta(cache_path: Path) -> dict | None:
    """A cache's header (version, source_key, fingerprint, source, ...) without its arrays; None if unreadable."""
    if not cache_path.is_file():
        return None
    try:
        with np.load(cache_path, allow_pickle=False) as archive:
            return json.loads(str(archive["meta"]))
    except Exception:  # truncated zip, bad header, bad JSON
        return None


def read_cache(cache_path: Path, expected_source_key: str | None = None) -> Cifar10 | None:
    """The cached data set, or None when the cache is missing, stale, truncated or corrupt."""
    if not cache_path.is_file():
        return None
    try:
        with np.load(cache_path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("version") != CACHE_FORMAT_VERSION:
                return None
            if expected_source_key is not None and meta.get("source_key") != expected_source_key:
                return None
            arrays = [archive[key] for key in ("x_train", "y_train", "x_test", "y_test")]
    except Exception:  # truncated zip, bad header, bad JSON: all mean "rebuild"
        return None
    if _checksum(arrays) != meta.get("crc32"):
        return None
    return Cifar10(*arrays, class_names=tuple(meta["class_names"]), source=meta["source"],
                   fingerprint=meta["fingerprint"])


def newest_usable_cache(data_dir: Path) -> Path | None:
    """The newest cache whose recorded source still matches (or no longer exists)."""
    dated = []
    for cache in (data_dir / "cache").glob("cifar10-*.npz"):
        with contextlib.suppress(OSError):  # removed meanwhile as stale by another process's conversion
            dated.append((cache.stat().st_mtime, cache))
    for _, cache in sorted(dated, reverse=True):
        meta = _read_meta(cache)
        if meta is None or meta.get("version") != CACHE_FORMAT_VERSION:
            continue
        source = Path(meta.get("source", ""))
        if source.exists() and source_key(source) != meta.get("source_key"):
            continue  # stale: its source changed since
        return cache
    return None


class _exclusive_lock:
    """Holds an exclusive lock file so that concurrent first loads build the cache once."""

    def __init__(self, path: Path):
        self.path = path
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "a")
        if fcntl is not None:
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if fcntl is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
        return False


# ----------------------------------------------------------------------------- readers

def read_source(path: Path, progress: bool = True) -> Cifar10:
    """Read any accepted format into arrays, validating shapes, labels and classes."""
    with _reading(path):
        return _parse_members(path, list(_members(path)), progress=progress)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turns what a damaged archive raises while it is read into a DataError that says what to do."""
    try:
        yield
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
        if isinstance(error, OSError) and error.errno is not None:  # permissions and the like
            raise DataError(f"cannot read {path}: {error.strerror}.") from None
        raise DataError(f"{path} is truncated or corrupt ({type(error).__name__}: {error}); "
                        f"no cache was written. Download or copy it again.") from None


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, zlib.error, tarfile.TarError):
        # A gzip stream cut short can fail here already; report it as truncated later.
        return path.name.endswith((".tar", ".tar.gz", ".tgz"))


def _members(path: Path) -> Iterator[tuple[str, bytes | Path]]:
    """(name, content or file path) of every file in the source, in archive order, read one at a time: a
    folder's files sorted, a .zip's or a .tar(.gz)'s in one sequential pass (nothing is extracted to disk)."""
    if path.is_dir():
        for directory, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(directory) / name
                yield full.relative_to(path).as_posix(), full
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
    elif _is_tar(path):
        with tarfile.open(path, "r:*") as archive:
            for info in archive:
                if info.isfile():
                    yield info.name, archive.extractfile(info).read()
    else:
        raise DataError(f"{path} is neither a folder, a .zip nor a .tar(.gz) archive: unknown "
                        f"format. " + _how_to_provide(default_data_dir()))


def _content(member: bytes | Path) -> bytes:
    return member.read_bytes() if isinstance(member, Path) else member


def _parse_members(path: Path, members: list[tuple[str, bytes | Path]], progress: bool) -> Cifar10:
    by_base = {}
    for name, member in members:
        by_base.setdefault(name.rsplit("/", 1)[-1], []).append((name, member))
    if "data_batch_1" in by_base or TEST_BATCH in by_base:
        return _parse_batches(path, by_base)
    splits = _image_folder_split(members)
    if splits:
        return _parse_image_folders(path, splits, progress=progress)
    raise DataError(f"{path}: found neither the official batches (data_batch_1..5, test_batch) nor "
                    f"image folders train/<class>/ and test/<class>/: unknown format. "
                    + _how_to_provide(default_data_dir()))


# ------------------------------------------------------------------ official pickled batches

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's array-rebuilding function
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,  # bytes in protocol-2 pickles from Python 3
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits only the globals a CIFAR-10 batch needs; anything else is refused, never called."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def safe_unpickle(data: bytes, what: str) -> object:
    """Unpickle CIFAR-10 batch bytes without ever running code from them."""
    try:
        return _ArraysOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise DataError(f"{what} is not a CIFAR-10 batch ({error}); it was refused without being "
                        f"run. Use the official archive.") from None
    except Exception as error:
        raise DataError(f"{what} is truncated or corrupt ({type(error).__name__}). "
                        f"Download or copy it again.") from None


def _batch_arrays(path: Path, name: str, batch: object) -> tuple[np.ndarray, np.ndarray]:
    where = f"{path} ({name})"
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{where} has no data and labels entries: not a CIFAR-10 batch.")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", type(data).__name__)
        raise DataError(f"{where} holds images of shape {shape} and type {getattr(data, 'dtype', '?')}; "
                        f"expected (N, 3072) uint8 (32x32x3 images).")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where} has {labels.shape} labels for {len(data)} images; expected one "
                        f"integer label per image.")
    _check_labels(where, labels)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _check_labels(where: str, labels: np.ndarray) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(f"{where} has labels from {labels.min()} to {labels.max()}; expected 0..9.")


def _parse_batches(path: Path, by_base: dict) -> Cifar10:
    def load(name: str) -> object:
        found = by_base.get(name)
        if not found:
            raise DataError(f"{path} lacks {name}: the official layout has {', '.join(TRAIN_BATCHES)}, "
                            f"{TEST_BATCH} and {META_FILE}. Download or extract it again.")
        member_name, member = found[0]
        return safe_unpickle(_content(member), f"{path} ({member_name})")

    if META_FILE in by_base:
        meta = load(META_FILE)
        names = tuple(n.decode() if isinstance(n, bytes) else str(n)
                      for n in (meta.get(b"label_names", []) if isinstance(meta, dict) else []))
        if names != CLASS_NAMES:
            raise DataError(f"{path} ({META_FILE}) names the classes {list(names)}; expected the "
                            f"CIFAR-10 classes {list(CLASS_NAMES)}.")
    train = [_batch_arrays(path, name, load(name)) for name in TRAIN_BATCHES]
    test = _batch_arrays(path, TEST_BATCH, load(TEST_BATCH))
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return _validated(path, x_train, y_train, test[0], test[1])


# ------------------------------------------------------------------ image folders

def _image_folder_split(members) -> dict[str, dict[str, list]]:
    """{'train': {class: [(name, member)]}, 'test': {...}} from paths .../<split>/<class>/<file>."""
    splits: dict[str, dict[str, list]] = {}
    prefixes = set()
    for name, member in members:
        if not _in_image_folders(name):
            continue
        parts = name.split("/")
        prefixes.add("/".join(parts[:-3]))
        splits.setdefault(parts[-3], {}).setdefault(parts[-2], []).append((name, member))
    if len(prefixes) > 1:
        raise DataError(f"found train/ and test/ folders under several tops ({sorted(prefixes)[:3]}); "
                        f"expected one image-folder tree.")
    return splits


def _in_image_folders(name: str) -> bool:
    """Whether member ``name`` is an image of the image-folder layout: .../<train|test>/<class>/<file>, not hidden."""
    parts = name.split("/")
    return len(parts) >= 3 and parts[-3] in ("train", "test") and not parts[-1].startswith(".")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _decode_image(path: Path, name: str, member: bytes | Path) -> np.ndarray:
    """The (32, 32, 3) uint8 pixels of image file ``name`` of source ``path``; DataError if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(_content(member))) as image:
            image.load()
            if image.size != (32, 32) or image.mode != "RGB":
                raise DataError(f"{path}: {name} is a {image.size[0]}x{image.size[1]} "
                                f"{image.mode} image; expected 32x32 RGB.")
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: {name} does not decode as an image ({error}); "
                        f"no cache was written. Replace the file or the archive.") from None


def _parse_image_folders(path: Path, splits: dict, progress: bool) -> Cifar10:
    from tqdm import tqdm

    arrays = {}
    for split in ("train", "test"):
        classes = splits.get(split, {})
        if not classes:
            raise DataError(f"{path} has no images under {split}/<class>/; expected the "
                            f"{split} split as {split}/airplane/*.jpg, {split}/automobile/*.jpg, ...")
        found, expected = set(classes), set(CLASS_NAMES)
        if found != expected:
            missing, extra = sorted(expected - found), sorted(found - expected)
            raise DataError(f"{path} {split}/ has class folders {sorted(found)}; expected exactly "
                            f"{list(CLASS_NAMES)} (missing: {missing or 'none'}; "
                            f"unexpected: {extra or 'none'}).")
        items = [(label, name, member) for label, cls in enumerate(CLASS_NAMES)
                 for name, member in sorted(classes[cls], key=lambda m: _natural_key(m[0]))]
        images = np.empty((len(items), *IMAGE_SHAPE), dtype=np.uint8)
        labels = np.empty(len(items), dtype=np.int64)
        for i, (label, name, member) in enumerate(tqdm(items, desc=f"decoding {split} images",
                                                       unit="img", disable=not progress,
                                                       mininterval=1.0)):
            images[i], labels[i] = _decode_image(path, name, member), label
        arrays[split] = (images, labels)
    return _validated(path, *arrays["train"], *arrays["test"])


def _validated(path: Path, x_train, y_train, x_test, y_test) -> Cifar10:
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) == 0:
            raise DataError(f"{path} has an empty {split} split; expected CIFAR-10's "
                            f"{N_TRAIN if split == 'train' else N_TEST} images.")
        if x.shape[1:] != IMAGE_SHAPE or x.dtype != np.uint8:
            raise DataError(f"{path} {split} images have shape {x.shape[1:]}; expected 32x32x3 uint8.")
        if len(y) != len(x):
            raise DataError(f"{path} {split} has {len(x)} images but {len(y)} labels.")
        _check_labels(f"{path} {split}", y)
    return Cifar10(x_train, y_train, x_test, y_test, class_names=CLASS_NAMES,
                   source=str(path.resolve()))
