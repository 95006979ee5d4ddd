"""`make setup` (scripts/setup_env.py) with stand-in interpreters and a stand-in pip: every way the set-up
can fail says so in one line, exits 2 and leaves no half-built .venv; a .venv without a matching stamp is
rebuilt, never reused. Nothing is installed for real."""
from __future__ import annotations

import ast
import fcntl
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts import setup_env

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")

# What Debian's and Ubuntu's Python prints for `python3.X -m venv` without the python3.X-venv package.
DEBIAN_NO_ENSUREPIP = """The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python{minor}-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.
"""
# What pip prints when the index cannot be reached (pip 23, name resolution failing).
PIP_OFFLINE = """Collecting numpy==2.4.6 (from -r requirements.txt (line 2))
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by \
'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f3c>: Failed to establish a new \
connection: [Errno -3] Temporary failure in name resolution')': /simple/numpy/
ERROR: Could not find a version that satisfies the requirement numpy==2.4.6 (from versions: none)
ERROR: No matching distribution found for numpy==2.4.6
"""

# The venv's python: answers the probe as Python {version}; `-m pip install` does what STANDIN_PIP says.
STANDIN_PIP = r"""#!/bin/sh
if [ "$1" = "-c" ]; then echo "{version} CPython $0"; exit 0; fi
echo "$*" >> "$STANDIN_CALLS"
case "$STANDIN_PIP" in
  offline) cat "$STANDIN_DIR/offline.txt"; exit 1 ;;
  nomatch) echo "ERROR: No matching distribution found for numpy==2.4.6"; exit 1 ;;
  nospace) echo "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"; exit 1 ;;
  killed) echo "Collecting torch==2.14.1"; kill -9 $$ ;;
  hang) echo "Collecting torch==2.14.1"; echo $$ > "$STANDIN_DIR/pip.pid"; exec sleep 30 ;;
  *) echo "Successfully installed numpy-2.4.6 torch-2.14.1"; exit 0 ;;
esac
"""
# An interpreter: answers the probe as {impl} {version} (`-c ""`, the Makefile's does-it-run test, exits 0),
# makes a venv whose python is the stand-in pip (or fails as Debian's does when STANDIN_VENV=debian, after
# making the folder, as the real one does) and runs anything else, scripts/setup_env.py, with this Python.
STANDIN_PYTHON = r"""#!/bin/sh
if [ "$1" = "-c" ]; then
  case "$2" in *platform*) echo "{version} {impl} $0" ;; esac
  exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  echo "venv {version}" >> "$STANDIN_CALLS"
  mkdir -p "$3/bin" "$3/lib"
  if [ "$STANDIN_VENV" = "debian" ]; then cat "$STANDIN_DIR/debian-{minor}.txt"; exit 1; fi
  printf 'home = %s\nversion = {version}\n' "$(dirname "$0")" > "$3/pyvenv.cfg"
  cp "$STANDIN_DIR/pip-{version}" "$3/bin/python"
  exit 0
fi
exec {real} "$@"
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


class Standins:
    """A folder of stand-in interpreters, `python<minor>` each, and the environment make runs with."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "bin"
        self.dir.mkdir()
        self.venv = tmp_path / "project" / ".venv"
        self.venv.parent.mkdir()
        self.log = Path(str(self.venv) + "-install.log")
        self.calls = tmp_path / "calls.txt"
        (self.dir / "offline.txt").write_text(PIP_OFFLINE)
        path = [str(self.dir), os.path.dirname(MAKE) if MAKE else "", "/usr/bin", "/bin"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "STANDIN_"))}
        self.env.update(PATH=os.pathsep.join(p for p in path if p), STANDIN_DIR=str(self.dir),
                        STANDIN_CALLS=str(self.calls), SETUP_NEED_GB="0", PIP_CACHE_DIR=str(tmp_path / "cache"))

    def python(self, version: str, impl: str = "CPython", name: str | None = None) -> str:
        minor = ".".join(version.split(".")[:2])
        _script(self.dir / f"pip-{version}", STANDIN_PIP.replace("{version}", version))
        (self.dir / f"debian-{minor}.txt").write_text(DEBIAN_NO_ENSUREPIP.format(minor=minor))
        path = self.dir / (name or f"python{minor}")
        _script(path, STANDIN_PYTHON.replace("{version}", version).replace("{impl}", impl)
                .replace("{minor}", minor).replace("{real}", sys.executable))
        return str(path)

    def make(self, goal: str, python: str, **env) -> subprocess.CompletedProcess:
        return subprocess.run([MAKE, "--no-print-directory", goal, f"PYTHON={python}", f"VENV={self.venv}"],
                              cwd=ROOT, env={**self.env, **env}, capture_output=True, text=True, timeout=60)

    def module(self, python: str, *args: str, **env) -> subprocess.Popen:
        """scripts/setup_env.py run directly, as the Makefile runs it."""
        return subprocess.Popen([sys.executable, "scripts/setup_env.py", "--python", python, "--venv",
                                 str(self.venv), "--goal", "part1", *args], cwd=ROOT, env={**self.env, **env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_pip(self) -> int:
        pid_file = self.dir / "pip.pid"
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text().strip():
                return int(pid_file.read_text())
            time.sleep(0.025)
        raise AssertionError("the stand-in pip never started")

    def stamp(self) -> dict:
        return json.loads((self.venv / ".installed").read_text())


@pytest.fixture
def standins(tmp_path):
    return Standins(tmp_path)


def one_error(result) -> str:
    """The single line the set-up printed on stderr (make's own '*** [Makefile:NN: setup]' trailer aside)."""
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("make: ***")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


# --- the interpreter check, before anything is created ------------------------------------------------------

@needs_make
def test_python_older_than_supported_names_version_path_need_and_the_fix(standins):
    python = standins.python("3.10.13")
    result = standins.make("part1", python)
    line = one_error(result)
    assert result.returncode == 2 and not standins.venv.exists() and not standins.calls.exists()
    assert line.startswith(f"error: PYTHON={python} is Python 3.10.13 ({python}) but requirements.txt's pinned "
                           f"wheels need Python {setup_env.supported_text()}; ")
    assert re.search(r"make part1 PYTHON=\S+$", line), line


@needs_make
def test_python_newer_than_the_pinned_wheels_says_so(standins):
    python = standins.python("3.15.0")
    result = standins.make("setup", python)
    line = one_error(result)
    assert result.returncode == 2 and not standins.venv.exists()
    assert f"is Python 3.15.0 ({python}), newer than requirements.txt's pinned wheels support" in line
    assert re.search(r"make setup PYTHON=\S+$", line), line


@needs_make
def test_python_that_is_not_there_is_named_by_the_fallback_interpreter(standins):
    result = standins.make("part1", "python3.99")
    line = one_error(result)
    assert result.returncode == 2 and not standins.venv.exists()
    assert line.startswith("error: PYTHON=python3.99 was not found (")
    assert f"point make at a Python {setup_env.supported_text()}" in line or "install a Python" in line


def test_each_interpreter_problem(standins):
    def info(version, impl="CPython"):
        return {"version": version, "implementation": impl, "executable": "/x/python"}
    assert setup_env.problem(info((3, 11, 0))) is None and setup_env.problem(info((3, 14, 0))) is None
    assert "need Python 3.11 to 3.14" in setup_env.problem(info((3, 10, 13)))
    assert "need Python 3.11 to 3.14" in setup_env.problem(info((2, 7, 18)))
    assert "newer than" in setup_env.problem(info((3, 15, 0)))
    assert "torchvision 0.29.1" in setup_env.problem(info((3, 14, 1)))
    assert "not CPython" in setup_env.problem(info((3, 11, 9), "PyPy"))


def test_the_suggestion_names_a_supported_interpreter_on_path(standins, monkeypatch):
    standins.python("3.10.13")
    monkeypatch.setenv("PATH", str(standins.dir))
    assert setup_env.suggestion("python3.10", "part1") == ("install one and point make at it: "
                                                           "make part1 PYTHON=python3.11")
    standins.python("3.12.1")
    assert setup_env.suggestion("python3.10", "part1") == "point make at one: make part1 PYTHON=python3.12"


def test_the_supported_range_is_written_once_and_the_makefile_and_readme_use_it():
    source = (ROOT / "scripts" / "setup_env.py").read_text()
    assert len(re.findall(r'^SUPPORTED = "(\d+\.\d+-\d+\.\d+)"', source, re.M)) == 1
    makefile = (ROOT / "Makefile").read_text()
    assert "s/^SUPPORTED = " in makefile and "scripts/setup_env.py" in makefile
    assert not re.search(r"3\.1[1-4]", makefile.replace("PYTHON=python3.11", ""))
    assert f"Python {setup_env.supported_text()}" in (ROOT / "README.md").read_text()


def test_the_file_parses_on_old_pythons():
    """No f-strings, annotations, walrus or `raise ... from`: an old interpreter gets the line, not a
    SyntaxError. Checked on the syntax tree here, and on a real old interpreter where one is installed."""
    tree = ast.parse((ROOT / "scripts" / "setup_env.py").read_text())
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.JoinedStr, ast.NamedExpr, ast.AnnAssign)), ast.dump(node)[:80]
        if isinstance(node, ast.FunctionDef):
            assert node.returns is None and not node.args.kwonlyargs
            assert all(a.annotation is None for a in node.args.args)
        if isinstance(node, ast.Raise):
            assert node.cause is None


def test_an_old_interpreter_running_the_file_prints_the_line(standins, tmp_path):
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(os.path.join(pyenv, "versions", "[23].[0-9]*", "bin", "python[23].[0-9]")))
    found += [p for p in map(shutil.which, ("python2.7", "python3.6", "python3.7")) if p]
    old = next((p for p in found if subprocess.run([p, "-c", "import sys; sys.exit(sys.version_info >= (3, 8))"],
                                                   capture_output=True).returncode == 0), None)
    if old is None:
        pytest.skip("no Python older than 3.8 here")
    result = subprocess.run([old, "scripts/setup_env.py", "--python", old, "--venv", str(tmp_path / "v")],
                            cwd=ROOT, env=standins.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "but requirements.txt's pinned wheels need Python" in result.stderr


# --- creating the venv and installing ------------------------------------------------------------------------

@needs_make
def test_debian_python_without_venv_names_the_package_and_leaves_nothing(standins):
    python = standins.python("3.11.7")
    result = standins.make("part1", python, STANDIN_VENV="debian")
    line = one_error(result)
    assert result.returncode == 2 and not standins.venv.exists()
    assert line.startswith(f"error: Python 3.11.7 ({python}) cannot create {standins.venv}: Debian and Ubuntu ")
    assert "install it with `sudo apt install python3.11-venv`, then run make part1 again" in line


@needs_make
def test_unreachable_index_is_one_line_naming_the_log_that_keeps_pips_output(standins):
    python = standins.python("3.11.7")
    result = standins.make("part1", python, STANDIN_PIP="offline")
    line = one_error(result)
    assert result.returncode == 2 and not standins.venv.exists()
    assert line == (f"error: pip could not reach the package index (Temporary failure in name resolution); check the "
                    f"network, proxy or index settings and run make part1 again (.venv removed; pip's output: "
                    f"{standins.log})")
    assert "No matching distribution found for numpy==2.4.6" in standins.log.read_text()
    assert "No matching" not in result.stdout + result.stderr  # pip's screen stays in the log


@needs_make
@pytest.mark.parametrize("pip, expected", [
    ("nomatch", "error: pip found no numpy==2.4.6 for Python 3.11.7 on "),
    ("nospace", "error: the disk filled up during the install (No space left on device); free about "),
    ("killed", "error: pip was stopped by SIGKILL; run make part1 again (.venv removed; pip's output: "),
])
def test_every_pip_failure_is_one_line_and_removes_the_venv(standins, pip, expected):
    result = standins.make("part1", standins.python("3.11.7"), STANDIN_PIP=pip)
    assert one_error(result).startswith(expected) and result.returncode == 2 and not standins.venv.exists()


@needs_make
def test_short_disk_is_named_before_anything_is_created(standins, tmp_path):
    result = standins.make("part1", standins.python("3.11.7"), SETUP_NEED_GB="1000000")  # a petabyte
    line = one_error(result)
    assert result.returncode == 2 and not standins.venv.exists() and not standins.calls.exists()
    assert line.startswith("error: the install needs about 1000000 GB free (PyTorch's wheel carries CUDA) but ")
    assert f"{standins.venv.parent} ({standins.venv}, pip's cache" in line
    assert line.endswith(", then run make part1 again")


def test_each_disk_short_of_space_is_named_with_its_fix(standins, tmp_path, monkeypatch):
    monkeypatch.setenv("SETUP_NEED_GB", "1000000")
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(setup_env.SetupError) as e:
        setup_env.check_space(str(standins.venv), "part1", False)
    assert "pip's cache" in str(e.value) and "set PIP_CACHE_DIR" in str(e.value)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(setup_env.SetupError) as e:
        setup_env.check_space(str(standins.venv), "part1", False)
    assert "pip's cache" not in str(e.value)
    monkeypatch.setenv("SETUP_NEED_GB", "lots")
    with pytest.raises(setup_env.SetupError, match="SETUP_NEED_GB=lots is not a number"):
        setup_env.need_bytes()
    monkeypatch.setenv("SETUP_NEED_GB", "0.001")
    setup_env.check_space(str(standins.venv), "part1", False)


# --- what counts as a complete .venv -----------------------------------------------------------------------

@needs_make
def test_a_venv_left_by_a_failed_310_attempt_is_replaced_by_the_311_build(standins):
    """The issue's trap: `make part1` with 3.10 used to leave a .venv that `make setup PYTHON=python3.11` kept."""
    subprocess.run([standins.python("3.10.13"), "-m", "venv", str(standins.venv)], env=standins.env, check=True)
    result = standins.make("setup", standins.python("3.11.7"))
    assert result.returncode == 0, result.stderr
    assert (f"{standins.venv} (Python 3.10.13) has no completed-install stamp (an earlier install failed or was "
            f"interrupted); removing it and building it again with Python 3.11.7") in result.stdout
    assert result.stdout.rstrip().endswith(f"{standins.venv} is ready: Python 3.11.7 with requirements.txt installed")
    assert standins.stamp()["python_version"] == "3.11.7"
    assert standins.calls.read_text().splitlines()[-2:] == ["venv 3.11.7", "-m pip install --disable-pip-version-check "
                                                            "-r requirements.txt"]


@needs_make
def test_a_complete_venv_is_kept_and_checked_on_every_target(standins):
    python = standins.python("3.11.7")
    assert standins.make("setup", python).returncode == 0
    calls = standins.calls.read_text()
    again = standins.make("setup", python)
    assert again.returncode == 0 and again.stdout.strip() == (f"{standins.venv} is complete: Python 3.11.7 with "
                                                               f"requirements.txt installed")
    assert standins.calls.read_text() == calls  # nothing was built again
    # PYTHON from the environment (not make's command line) keeps it even when it is another version
    env_python = standins.python("3.12.1")
    kept = subprocess.run([MAKE, "--no-print-directory", "setup", f"VENV={standins.venv}"], cwd=ROOT,
                          env={**standins.env, "PYTHON": env_python}, capture_output=True, text=True, timeout=60)
    assert kept.returncode == 0 and standins.calls.read_text() == calls, kept.stderr


@needs_make
def test_python_named_on_the_command_line_with_another_version_rebuilds(standins):
    assert standins.make("setup", standins.python("3.11.7")).returncode == 0
    result = standins.make("setup", standins.python("3.12.1"))
    assert result.returncode == 0, result.stderr
    assert "was made with Python 3.11.7 and PYTHON=" in result.stdout and standins.stamp()["python_version"] == "3.12.1"


@pytest.mark.parametrize("spoil, why", [
    (lambda v: (v / ".installed").write_text("{not json"), "has an unreadable completed-install stamp"),
    (lambda v: (v / "bin" / "python").write_text("#!/bin/sh\necho '3.12.1 CPython x'\n"),
     "was made with Python 3.11.7 but its python now reports 3.12.1"),
    (lambda v: (v / "bin" / "python").unlink(), "was made with Python 3.11.7 and its python no longer runs"),
    (lambda v: (v / ".installed").unlink(), "has no completed-install stamp"),
])
def test_anything_but_a_matching_stamp_is_stale(standins, tmp_path, spoil, why):
    python = standins.python("3.11.7")
    proc = standins.module(python)
    assert proc.wait(30) == 0, proc.stderr.read()
    spoil(standins.venv)
    state, reason, _ = setup_env.venv_state(str(standins.venv), str(ROOT / "requirements.txt"))
    assert state == "stale" and reason.startswith(why)


def test_another_requirements_txt_is_stale_and_an_old_empty_stamp_is_upgraded(standins, tmp_path):
    python = standins.python("3.11.7")
    proc = standins.module(python)
    assert proc.wait(30) == 0, proc.stderr.read()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.4.6\n")
    assert setup_env.venv_state(str(standins.venv), str(requirements))[:2] == (
        "stale", "was built from another requirements.txt")
    (standins.venv / ".installed").write_text("")  # what `touch` in the Makefile before this one left
    os.utime(requirements, (0, 0))
    assert setup_env.venv_state(str(standins.venv), str(requirements)) == ("valid", None, "3.11.7")
    assert standins.stamp()["python_version"] == "3.11.7"
    (standins.venv / ".installed").write_text("")
    os.utime(requirements, None)
    os.utime(standins.venv / ".installed", (0, 0))
    assert setup_env.venv_state(str(standins.venv), str(requirements))[0] == "stale"


@needs_make
def test_a_folder_that_is_not_a_venv_is_never_removed(standins):
    standins.venv.mkdir()
    (standins.venv / "notes.txt").write_text("mine")
    result = standins.make("part1", standins.python("3.11.7"))
    assert one_error(result).startswith(f"error: {standins.venv} exists but is not a virtual environment")
    assert result.returncode == 2 and (standins.venv / "notes.txt").read_text() == "mine"


def test_a_symlinked_venv_keeps_its_link_and_folder(tmp_path):
    target = tmp_path / "bigdisk" / "venv"
    (target / "bin").mkdir(parents=True)
    (target / "pyvenv.cfg").write_text("version = 3.10.13\n")
    link = tmp_path / ".venv"
    link.symlink_to(target)
    setup_env.remove_venv(str(link))
    assert link.is_symlink() and target.is_dir() and not list(target.iterdir())


# --- interrupts -----------------------------------------------------------------------------------------------

@needs_make
def test_ctrl_c_during_pip_removes_the_venv_and_the_next_attempt_builds_afresh(standins):
    python = standins.python("3.11.7")
    proc = subprocess.Popen([MAKE, "--no-print-directory", "part1", f"PYTHON={python}", f"VENV={standins.venv}"],
                            cwd=ROOT, env={**standins.env, "STANDIN_PIP": "hang"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    standins.wait_for_pip()
    assert standins.venv.is_dir()
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
    _, stderr = proc.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if not line.startswith("make: ***")]
    assert lines == [f"error: the install was interrupted (SIGINT); {standins.venv} was removed, so the next make "
                     f"part1 starts afresh (pip's output: {standins.log})"], stderr
    assert proc.returncode != 0 and not standins.venv.exists()
    result = standins.make("setup", python)
    assert result.returncode == 0 and "removing it" not in result.stdout and standins.stamp()


def test_sigterm_to_the_set_up_stops_pip_and_removes_the_venv(standins):
    proc = standins.module(standins.python("3.11.7"), STANDIN_PIP="hang")
    pip = standins.wait_for_pip()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2 and stderr.startswith("error: the install was interrupted (SIGTERM); ")
    assert stderr.count("\n") == 1 and not standins.venv.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pip, 0)  # pip was stopped too


@needs_make
def test_a_second_make_waits_for_a_running_install_and_a_killed_one_leaves_no_stamp(standins):
    python = standins.python("3.11.7")
    proc = standins.module(python, STANDIN_PIP="hang")
    pip = standins.wait_for_pip()
    second = standins.make("test", python)  # another terminal, same folder
    assert one_error(second) == (f"error: another make is building {standins.venv} right now (its pip's output: "
                                 f"{standins.log}); wait for it to finish, then run make test again")
    assert second.returncode == 2 and standins.venv.is_dir()
    proc.kill()  # SIGKILL: no clean-up runs, and pip is orphaned but still holds the build's lock
    proc.communicate(timeout=30)
    assert "another make is building" in one_error(standins.make("test", python))
    os.kill(pip, signal.SIGKILL)
    with open(standins.log) as log:
        for _ in range(400):  # until the orphan is gone and its lock with it
            try:
                fcntl.flock(log, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                time.sleep(0.01)
    assert standins.venv.is_dir() and not (standins.venv / ".installed").exists()
    (standins.dir / "pip.pid").unlink()
    again = standins.module(python)
    out, err = again.communicate(timeout=30)
    assert again.returncode == 0, err
    assert "has no completed-install stamp (an earlier install failed or was interrupted); removing it" in out
    assert standins.stamp()["python_version"] == "3.11.7"
