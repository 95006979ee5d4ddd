"""The loader on every accepted format, the cache, the download path, and every bad input."""
from __future__ import annotations

import http.server
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from common.data import cifar10 as D
from common.errors import DataError
from common.paths import PROJECT_ROOT
from tests import helpers


def assert_same(dataset: D.Cifar10, arrays, ordered_by_label: bool = False):
    x_train, y_train, x_test, y_test = arrays
    if ordered_by_label:
        x_train, y_train = helpers.sorted_by_label(x_train, y_train)
        x_test, y_test = helpers.sorted_by_label(x_test, y_test)
    np.testing.assert_array_equal(dataset.x_train, x_train)
    np.testing.assert_array_equal(dataset.y_train, y_train)
    np.testing.assert_array_equal(dataset.x_test, x_test)
    np.testing.assert_array_equal(dataset.y_test, y_test)
    assert dataset.class_names == D.CLASS_NAMES
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int64


# ----------------------------------------------------------------------------- formats

def test_official_tarball(tmp_path, arrays):
    tarball = helpers.write_official_tarball(tmp_path / "mini-cifar.tar.gz", arrays)
    assert_same(D.load_cifar10(tarball, progress=False), arrays)


def test_official_tarball_name_is_md5_verified(tmp_path, arrays):
    tarball = helpers.write_official_tarball(tmp_path / D.OFFICIAL_TARBALL, arrays)
    with pytest.raises(DataError, match="md5"):
        D.load_cifar10(tarball, progress=False)
    import hashlib
    good = hashlib.md5(tarball.read_bytes()).hexdigest()
    assert_same(D.load_cifar10(tarball, md5=good, progress=False), arrays)


def test_batches_folder(tmp_path, arrays):
    folder = helpers.write_batches_folder(tmp_path, arrays)
    assert_same(D.load_cifar10(folder, progress=False), arrays)


def test_protocol_2_pickles_from_python3_load(tmp_path, arrays):
    files = {name: pickle.dumps(pickle.loads(blob), protocol=2) for name, blob in helpers.batch_files(arrays).items()}
    folder = helpers.write_batches_folder(tmp_path, arrays, files)
    assert_same(D.load_cifar10(folder, progress=False), arrays)


@pytest.mark.parametrize("container", ["folder", "zip", "tar", "tar.gz"])
def test_image_folder_tree(tmp_path, arrays, container):
    files = helpers.image_tree_files(arrays)
    if container == "folder":
        source = helpers.write_tree(tmp_path / "tree", files)
    elif container == "zip":
        source = helpers.write_zip(tmp_path / "tree.zip", files)
    else:
        source = helpers.write_tar(tmp_path / f"tree.{container}", files, "w:gz" if container == "tar.gz" else "w")
    assert_same(D.load_cifar10(source, progress=False), arrays, ordered_by_label=True)


def test_jpeg_tree_decodes_close_to_the_original(tmp_path, arrays):
    source = helpers.write_zip(tmp_path / "jpeg.zip", helpers.image_tree_files(arrays, fmt="JPEG"))
    dataset = D.load_cifar10(source, progress=False)
    x_train, _ = helpers.sorted_by_label(arrays[0], arrays[1])
    assert np.abs(dataset.x_train.astype(int) - x_train).mean() < 20  # lossy, but the same images


def test_environment_variable_is_a_source(image_folder, arrays, monkeypatch):
    monkeypatch.setenv("CIFAR10_SOURCE", str(image_folder))
    assert_same(D.load_cifar10(progress=False), arrays, ordered_by_label=True)


def test_keras_cache_is_found(tmp_path, arrays, monkeypatch):
    helpers.write_batches_folder(tmp_path / "keras" / "datasets", arrays)
    assert_same(D.load_cifar10(progress=False), arrays)


def test_project_data_folder_tarball_is_found(tmp_path, arrays):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    import hashlib
    tarball = helpers.write_official_tarball(data_dir / D.OFFICIAL_TARBALL, arrays)
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    assert_same(D.load_cifar10(md5=md5, progress=False), arrays)


# ----------------------------------------------------------------------------- cache

def test_second_load_reads_the_cache(image_folder, arrays, monkeypatch):
    first = D.load_cifar10(image_folder, progress=False)

    def no_conversion(*_a, **_k):
        raise AssertionError("the source was converted again instead of read from the cache")

    monkeypatch.setattr(D, "read_source", no_conversion)
    second = D.load_cifar10(image_folder, progress=False)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    # without any explicit source, the project cache is found too
    np.testing.assert_array_equal(D.load_cifar10(progress=False).x_test, first.x_test)


def test_first_load_estimate_times_a_sample_and_scales_it_to_60000_images(tmp_path, arrays, monkeypatch):
    files = helpers.image_tree_files(arrays, fmt="JPEG")
    source = helpers.write_tar(tmp_path / "tree.tar.gz", files)
    decoded = []
    real_decode = D._decode_image
    ticks = iter(range(10_000))
    with monkeypatch.context() as patch:  # not monkeypatch.undo(): that would also undo the isolated environment
        patch.setattr(D, "time", type("Clock", (), {"perf_counter": lambda: next(ticks) / 1000}))  # 1 ms a look
        patch.setattr(D, "_decode_image", lambda *a: decoded.append(a[1]) or real_decode(*a))
        patch.setattr(D, "_cache_writing_seconds", lambda: 2.0)  # WRITE_SAMPLE_IMAGES images' worth
        seconds = D.first_load_seconds(source, sample=10)
    assert decoded == list(files)[:10]  # the archive's first ten images, read in one pass from its start
    assert seconds == pytest.approx(0.001 * 60_000 / 10 + 2.0 * 60_000 / D.WRITE_SAMPLE_IMAGES)
    assert 0 < D.first_load_seconds(source) < 600  # timed for real: 50 tiny images scaled to 60,000
    D.load_cifar10(source, progress=False)
    assert D.first_load_seconds(source) == 0.0  # converted: later loads read the cache
    assert D.first_load_seconds(None) == 0.0  # the search finds that cache too
    assert D.first_load_seconds(None, data_dir=tmp_path / "empty") is None  # it would download first: not known


def test_first_load_estimate_reads_only_what_the_conversion_reads_and_leaves_bad_sources_to_it(tmp_path, arrays):
    files = {"cifar10/preview.png": helpers.image_bytes(np.zeros((64, 64, 3), np.uint8)),  # not 32x32: not read
             **helpers.image_tree_files(arrays)}
    source = helpers.write_zip(tmp_path / "tree.zip", files)
    assert D.first_load_seconds(source) > 0
    assert_same(D.load_cifar10(source, progress=False), arrays, ordered_by_label=True)  # the load agrees
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(helpers.write_tar(tmp_path / "whole.tar.gz", files).read_bytes()[:300])
    assert D.first_load_seconds(broken) == 0.0  # no time to plan: the load stops at once and says why
    with pytest.raises(DataError, match="truncated or corrupt"):
        D.load_cifar10(broken, progress=False)


def test_first_load_estimate_of_the_official_batches_counts_a_batch_as_its_images(tmp_path, arrays, monkeypatch):
    source = helpers.write_batches_folder(tmp_path, arrays)
    ticks = iter(range(10_000))
    monkeypatch.setattr(D, "time", type("Clock", (), {"perf_counter": lambda: float(next(ticks))}))
    monkeypatch.setattr(D, "_cache_writing_seconds", lambda: 0.0)
    per_batch = len(arrays[0]) // 5  # write_batches_folder splits the training images over five batches
    # one second for the first batch, whatever the sample: a batch is read whole
    assert D.first_load_seconds(source, sample=1) == pytest.approx(60_000 / per_batch)


def test_changed_source_rebuilds_the_cache(tmp_path, arrays):
    source = helpers.write_batches_folder(tmp_path, arrays)
    D.load_cifar10(source, progress=False)
    changed = (arrays[0], arrays[1], arrays[2][::-1].copy(), arrays[3][::-1].copy())
    helpers.write_batches_folder(tmp_path, changed)
    os.utime(source / "test_batch", ns=(1, 1))  # a different mtime, whatever the clock's resolution
    assert_same(D.load_cifar10(source, progress=False), changed)
    # The first conversion can never be read again: it is removed, lock file and all, not left to fill the disk.
    cache_folder = tmp_path / "data" / "cache"
    assert [p.name for p in cache_folder.glob("*.npz")] == [f"cifar10-{D.source_key(source)}.npz"]
    assert [p.stem for p in cache_folder.glob("*.lock")] == [f"cifar10-{D.source_key(source)}"]


def test_a_conversion_that_finishes_last_under_an_old_key_never_removes_the_current_cache(tmp_path, arrays):
    source = helpers.write_batches_folder(tmp_path / "a", arrays)
    other = helpers.write_batches_folder(tmp_path / "b", arrays)  # another source's cache is never touched
    D.load_cifar10(source, progress=False), D.load_cifar10(other, progress=False)
    cache_folder = tmp_path / "data" / "cache"
    first = cache_folder / f"cifar10-{D.source_key(source)}.npz"
    first_bytes = first.read_bytes()
    os.utime(source / "test_batch", ns=(1, 1))
    D.load_cifar10(source, progress=False)
    current = cache_folder / f"cifar10-{D.source_key(source)}.npz"
    first.write_bytes(first_bytes)  # a slow conversion begun before the change ends now
    # it removes itself, stale, and nothing else
    assert D._remove_superseded_caches(cache_folder, source.resolve()) == [first]
    assert sorted(p.name for p in cache_folder.glob("*.npz")) == sorted(
        [current.name, f"cifar10-{D.source_key(other)}.npz"])


def test_fingerprint_is_of_the_images_not_of_where_they_lie(tmp_path, arrays):
    # A remounted, copied or touched source is converted again, but runs and checkpoints made on it
    # must still recognise it as the same data (a resume that restarts from scratch loses hours).
    source = helpers.write_batches_folder(tmp_path / "a", arrays)
    first = D.load_cifar10(source, progress=False)
    assert D.data_fingerprint(source) == first.fingerprint  # the cheap look-up agrees with the load
    copy = helpers.write_batches_folder(tmp_path / "b", arrays)
    os.utime(copy / "test_batch", ns=(1, 1))
    assert D.data_fingerprint(copy) is None  # not converted yet: unknown, not guessed
    assert D.load_cifar10(copy, progress=False).fingerprint == first.fingerprint
    assert len(list((tmp_path / "data" / "cache").glob("*.npz"))) == 2  # each source its own cache
    changed = (arrays[0], arrays[1], arrays[2][::-1].copy(), arrays[3][::-1].copy())
    other = helpers.write_batches_folder(tmp_path / "c", changed)
    assert D.load_cifar10(other, progress=False).fingerprint != first.fingerprint


def test_truncated_cache_is_rebuilt(image_folder, arrays, tmp_path):
    D.load_cifar10(image_folder, progress=False)
    (cache,) = (tmp_path / "data" / "cache").glob("*.npz")
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    assert D.read_cache(cache) is None
    assert_same(D.load_cifar10(image_folder, progress=False), arrays, ordered_by_label=True)


def test_bit_flipped_cache_fails_its_checksum(image_folder, tmp_path):
    D.load_cifar10(image_folder, progress=False)
    (cache,) = (tmp_path / "data" / "cache").glob("*.npz")
    blob = bytearray(cache.read_bytes())
    blob[len(blob) // 3] ^= 0xFF  # inside x_train's pixels
    cache.write_bytes(bytes(blob))
    assert D.read_cache(cache) is None


def test_concurrent_cold_loads_build_the_cache_once(tmp_path, learnable_folder):
    code = ("import sys; from common.console import setup_logging; setup_logging(); "
            "from common.data.cifar10 import load_cifar10; d = load_cifar10(sys.argv[1], progress=False); "
            "print(int(d.x_train.sum()))")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(learnable_folder)], env=env, cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert results[0][0] == results[1][0]
    assert sum("converting" in err for _, err in results) == 1
    cache_dir = tmp_path / "data" / "cache"
    assert len(list(cache_dir.glob("*.npz"))) == 1
    assert not list(cache_dir.glob("*.tmp")) and not list(cache_dir.glob(".*.tmp"))


# ----------------------------------------------------------------------------- download

class _Server:
    """A loopback HTTP server for one file; never the network."""

    def __init__(self, payload: bytes):
        payload_ = payload

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload_)))
                self.end_headers()
                self.wfile.write(payload_)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{D.OFFICIAL_TARBALL}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_from_a_loopback_server(tmp_path, arrays, monkeypatch):
    import hashlib
    payload = helpers.write_official_tarball(tmp_path / "served.tar.gz", arrays).read_bytes()
    with _Server(payload) as server:
        monkeypatch.setenv("CIFAR10_URL", server.url)
        dataset = D.load_cifar10(md5=hashlib.md5(payload).hexdigest(), progress=False)
    assert_same(dataset, arrays)
    assert (tmp_path / "data" / D.OFFICIAL_TARBALL).read_bytes() == payload


def test_download_with_wrong_md5_is_refused_and_removed(tmp_path, arrays, monkeypatch):
    payload = helpers.write_official_tarball(tmp_path / "served.tar.gz", arrays).read_bytes()
    parsed = []
    monkeypatch.setattr(D, "read_source", lambda *a, **k: parsed.append(a))
    with _Server(payload) as server:
        monkeypatch.setenv("CIFAR10_URL", server.url)
        with pytest.raises(DataError, match="md5"):
            D.load_cifar10(progress=False)
    assert not parsed, "bytes were parsed before the md5 check"
    assert not list((tmp_path / "data").glob("cifar-10-python.tar.gz*"))


def test_no_data_and_no_network_says_where_it_looked(tmp_path):
    with pytest.raises(DataError) as caught:
        D.load_cifar10(progress=False)
    message = str(caught.value)
    for needle in ("--data", "CIFAR10_SOURCE", str(tmp_path / "data"), "keras", "download", "looked at",
                   str(tmp_path / "data" / "cache"), str(tmp_path / "keras" / "datasets" / "cifar-10-batches-py")):
        assert needle in message
    assert not list((tmp_path / "data").glob("*.part"))


def test_missing_explicit_source(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        D.load_cifar10(tmp_path / "nowhere.tar.gz", progress=False)


# ----------------------------------------------------------------------------- bad input

def test_pickle_that_would_run_code_is_refused(tmp_path, arrays):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    files = helpers.batch_files(arrays)
    files["data_batch_1"] = pickle.dumps({b"data": Payload(), b"labels": []})
    folder = helpers.write_batches_folder(tmp_path, arrays, files)
    with pytest.raises(DataError, match="refused"):
        D.load_cifar10(folder, progress=False)
    assert not marker.exists()
    assert not list((tmp_path / "data" / "cache").glob("*.npz"))


def test_truncated_tarball_then_good_data(tmp_path, arrays):
    good = helpers.write_official_tarball(tmp_path / "good.tar.gz", arrays)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated or corrupt") as caught:
        D.load_cifar10(cut, progress=False)
    assert "cut.tar.gz" in str(caught.value)
    assert not list((tmp_path / "data" / "cache").glob("*.npz"))
    assert_same(D.load_cifar10(good, progress=False), arrays)


def test_zip_with_an_image_that_does_not_decode(tmp_path, arrays):
    files = helpers.image_tree_files(arrays)
    bad = next(name for name in files if "/train/cat/" in name)
    files[bad] = b"not an image at all"
    with pytest.raises(DataError, match="does not decode") as caught:
        D.load_cifar10(helpers.write_zip(tmp_path / "bad.zip", files), progress=False)
    assert bad in str(caught.value)
    assert not list((tmp_path / "data" / "cache").glob("*.npz"))


def test_images_of_the_wrong_size(tmp_path, arrays):
    files = helpers.image_tree_files(arrays)
    name = next(iter(files))
    files[name] = helpers.image_bytes(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(DataError, match="16x16 RGB image; expected 32x32 RGB"):
        D.load_cifar10(helpers.write_tree(tmp_path / "t", files), progress=False)


def test_grey_images_are_refused(tmp_path, arrays):
    files = helpers.image_tree_files(arrays)
    name = next(iter(files))
    files[name] = helpers.image_bytes(np.zeros((32, 32), np.uint8))
    with pytest.raises(DataError, match="expected 32x32 RGB"):
        D.load_cifar10(helpers.write_tree(tmp_path / "t", files), progress=False)


def test_batch_with_wrong_shape(tmp_path, arrays):
    files = helpers.batch_files(arrays)
    files["data_batch_2"] = pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]})
    with pytest.raises(DataError, match=r"shape \(4, 100\).*expected \(N, 3072\) uint8"):
        D.load_cifar10(helpers.write_batches_folder(tmp_path, arrays, files), progress=False)


def test_labels_out_of_range(tmp_path, arrays):
    x_train, y_train, x_test, y_test = arrays
    files = helpers.batch_files(arrays)
    files["test_batch"] = helpers.batch_bytes(x_test, np.full(len(y_test), 12))
    with pytest.raises(DataError, match="labels from 12 to 12; expected 0..9"):
        D.load_cifar10(helpers.write_batches_folder(tmp_path, arrays, files), progress=False)


def test_missing_batch(tmp_path, arrays):
    files = helpers.batch_files(arrays)
    del files["data_batch_4"]
    with pytest.raises(DataError, match="lacks data_batch_4"):
        D.load_cifar10(helpers.write_batches_folder(tmp_path, arrays, files), progress=False)


def test_missing_and_extra_class_folders(tmp_path, arrays):
    files = {name.replace("/train/cat/", "/train/kitten/"): blob for name, blob in
             helpers.image_tree_files(arrays).items()}
    with pytest.raises(DataError, match=r"missing: \['cat'\]; unexpected: \['kitten'\]"):
        D.load_cifar10(helpers.write_tree(tmp_path / "t", files), progress=False)


def test_empty_split(tmp_path, arrays):
    files = {name: blob for name, blob in helpers.image_tree_files(arrays).items() if "/test/" not in name}
    with pytest.raises(DataError, match="no images under test/"):
        D.load_cifar10(helpers.write_tree(tmp_path / "t", files), progress=False)


def test_unknown_format(tmp_path):
    odd = tmp_path / "data.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="unknown format"):
        D.load_cifar10(odd, progress=False)
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    with pytest.raises(DataError, match="unknown format"):
        D.load_cifar10(folder, progress=False)


def test_safe_unpickle_admits_arrays_only():
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(D.safe_unpickle(pickle.dumps(array), "x"), array)
    with pytest.raises(DataError, match="refused global"):
        D.safe_unpickle(pickle.dumps(Path("/tmp")), "x")


# ----------------------------------------------------------------------------- real data

@pytest.mark.slow
def test_real_jpeg_set_loads(real_source, real_data_dir):
    dataset = D.load_cifar10(real_source, data_dir=real_data_dir, progress=False)
    assert dataset.x_train.shape == (50_000, 32, 32, 3) and dataset.x_test.shape == (10_000, 32, 32, 3)
    assert np.bincount(dataset.y_train).tolist() == [5000] * 10
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10


def test_truncated_jpeg_is_named(tmp_path, arrays):
    files = helpers.image_tree_files(arrays, fmt="JPEG")
    bad = next(name for name in files if "/test/ship/" in name)
    files[bad] = files[bad][: len(files[bad]) // 2]
    with pytest.raises(DataError, match="does not decode") as caught:
        D.load_cifar10(helpers.write_tar(tmp_path / "cut.tar", files, "w"), progress=False)
    assert bad in str(caught.value)
