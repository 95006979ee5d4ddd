"""Builds the suite's virtual environment for `make`, or says in one line why it cannot.

`make setup`, and so every target that needs .venv, runs this file with PYTHON, the interpreter the
user chose (python3 unless told otherwise: `make part1 PYTHON=python3.11`). In order it

1. keeps a complete .venv: one whose completed-install stamp (.venv/.installed) records the Python
   version its own python still reports and the requirements.txt it installed. Anything else is removed
   and built again, with a line that says why: nothing an earlier failed attempt left is reused.
   PYTHON given on make's command line with another version than the stamp's rebuilds it too.
2. checks PYTHON before creating anything: CPython SUPPORTED, the releases requirements.txt's pinned
   wheels exist for;
3. checks the free space where the install writes: the project's disk, pip's cache, the temporary folder;
4. creates .venv in place (a venv cannot be moved: its scripts keep the path they were made at) and
   installs requirements.txt into it, pip's output going to .venv-install.log. When that fails or is
   interrupted, .venv is removed; the stamp is written last, so a killed attempt leaves no stamp either.

Every failure is one line, ``error: <what was wrong>; <what to do>``, and exit status 2.

This file must *parse* on any Python, 2.7 included, so that an old interpreter prints the version line
instead of a SyntaxError: no f-strings, annotations, keyword-only arguments or `raise ... from`. Checks 1
and 2 also run there; building needs Python 3.6+. Hence three of ruff's rules are off for this file:
UP031 (%-formatting), UP036 (version checks) and B904 (raise ... from).
"""
# ruff: noqa: UP031, UP036, B904

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile

try:
    import fcntl
except ImportError:  # not POSIX: builds are not locked
    fcntl = None

# CPython releases with a wheel for every pin in requirements.txt: numpy 2.4.6, pandas 3.1.1, pillow 13.0.0,
# matplotlib 3.11.2 and scikit-learn 1.9.1 start at 3.11 (Requires-Python >=3.11), numpy 2.4.6, torch 2.14.1
# and torchvision 0.29.1 stop at 3.14 (cp314 wheels, none for 3.15). Checked against the index with
#   pip download --no-deps --only-binary=:all: --python-version 3.X -d /tmp/x numpy==2.4.6 torch==2.14.1
# Update it with requirements.txt. The one place: the Makefile reads this line for its own last-resort message.
SUPPORTED = "3.11-3.14"
# Releases inside the range that a pin still excludes, with the reason the message gives.
EXCLUDED = {"3.14.1": "torchvision 0.29.1 (Requires-Python !=3.14.1)"}
# About 6 GB: PyTorch's wheel carries CUDA (the installed .venv measures 5.9 GB). SETUP_NEED_GB overrides it,
# for an index that serves a CPU-only torch, or a test.
NEED_GB = 6.0
STAMP = ".installed"
# What a virtual environment holds at its top level, on POSIX and Windows, from Python 3.3 to 3.14. Only a
# folder holding pyvenv.cfg, or nothing but these, is ever removed.
VENV_ENTRIES = {"bin", "include", "lib", "lib64", "share", "pyvenv.cfg", ".gitignore", STAMP,
                "Include", "Lib", "Scripts"}

# Runs on the interpreter being checked, whatever its version: "3.11.7 CPython /usr/bin/python3.11".
PROBE = ("import platform, sys; v = sys.version_info; sys.stdout.write('%d.%d.%d %s %s\\n' % "
         "(v[0], v[1], v[2], platform.python_implementation(), sys.executable))")
_PROBE_LINE = re.compile(r"^(\d+)\.(\d+)\.(\d+) (\S+) (.*)$")

# pip's words when it cannot reach the package index, most telling first (the line quotes the first found).
NETWORK_SIGNS = ("Temporary failure in name resolution", "Name or service not known",
                 "nodename nor servname provided", "Network is unreachable", "Connection refused",
                 "Failed to establish a new connection", "ProxyError", "CERTIFICATE_VERIFY_FAILED", "SSLError",
                 "ConnectTimeoutError", "ReadTimeoutError", "Read timed out", "Connection reset by peer",
                 "RemoteDisconnected", "NewConnectionError", "Max retries exceeded", "Could not fetch URL")
NO_SPACE_SIGNS = ("No space left on device", "[Errno 28]")


class SetupError(Exception):
    """One line for the user: '<what was wrong>; <what to do>'."""


class _Interrupted(Exception):
    """SIGTERM or SIGHUP while building (SIGINT arrives as KeyboardInterrupt)."""


def supported_range(text=SUPPORTED):
    """((3, 11), (3, 14)) from '3.11-3.14'."""
    low, high = text.split("-")
    return tuple(int(p) for p in low.split(".")), tuple(int(p) for p in high.split("."))


def supported_text():
    low, high = supported_range()
    return "%d.%d to %d.%d" % (low + high)


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _capture(cmd, timeout=60):
    """(exit status, output) of a short command; (None, why) when it cannot be started or hangs."""
    try:
        with open(os.devnull, "rb") as null:
            proc = subprocess.Popen(cmd, stdin=null, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        return None, e.strerror or str(e)
    if sys.version_info >= (3, 3):
        try:
            out = proc.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None, "it did not answer within %d s" % timeout
    else:
        out = proc.communicate()[0]
    return proc.returncode, out.decode("utf-8", "replace")


def probe(python):
    """{'version': (3, 11, 7), 'implementation': 'CPython', 'executable': path} of an interpreter, or a
    string saying why it does not run."""
    status, out = _capture([python, "-c", PROBE])
    if status is None:
        return out
    for line in reversed(out.splitlines()):
        m = _PROBE_LINE.match(line.strip())
        if status == 0 and m:
            return {"version": tuple(int(g) for g in m.group(1, 2, 3)), "implementation": m.group(4),
                    "executable": m.group(5) or python}
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[0] if lines else "exit status %d" % status


def dotted(version):
    return ".".join(str(v) for v in version)


def problem(info):
    """Why an interpreter cannot build .venv, as the rest of 'PYTHON=x is Python 3.10.13 (path)...'; None if
    it can."""
    low, high = supported_range()
    if info["implementation"] != "CPython":
        return ", not CPython, which requirements.txt's pinned wheels are for (CPython %s)" % supported_text()
    if info["version"][:2] < low:
        return " but requirements.txt's pinned wheels need Python %s" % supported_text()
    if info["version"][:2] > high:
        return ", newer than requirements.txt's pinned wheels support (Python %s)" % supported_text()
    if dotted(info["version"]) in EXCLUDED:
        return (", a release that %s excludes from the Python %s requirements.txt's pins need"
                % (EXCLUDED[dotted(info["version"])], supported_text()))
    return None


def suggestion(python, goal, which="one"):
    """What to do: 'point make at one: make part1 PYTHON=python3.11', naming an interpreter on PATH that
    passes the check, else how to get one."""
    low, high = supported_range()
    names = ["python%d.%d" % (low[0], minor) for minor in range(low[1], high[1] + 1)] + ["python3"]
    for name in names:
        info = probe(name) if name != python else None
        if isinstance(info, dict) and problem(info) is None:
            return "point make at %s: make %s PYTHON=%s" % (which, goal, name)
    return "install %s and point make at it: make %s PYTHON=python%d.%d" % (which, goal, low[0], low[1])


def check_interpreter(python, goal):
    """The probe of PYTHON when it can build .venv; SetupError otherwise."""
    info = probe(python)
    if not isinstance(info, dict):
        failed = "was not found" if "No such file" in info or "not found" in info else "does not run"
        raise SetupError("PYTHON=%s %s (%s); %s" % (python, failed, info,
                                                   suggestion(python, goal, "a Python " + supported_text())))
    why = problem(info)
    if why:
        name = "Python" if info["implementation"] == "CPython" else info["implementation"]
        raise SetupError("PYTHON=%s is %s %s (%s)%s; %s" % (python, name, dotted(info["version"]),
                                                            info["executable"], why, suggestion(python, goal)))
    return info


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _pyvenv_cfg(venv):
    """pyvenv.cfg's keys ('version', 'executable', ...), {} without one."""
    values = {}
    path = os.path.join(venv, "pyvenv.cfg")
    if not os.path.isfile(path):
        return values
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _venv_python(venv):
    return os.path.join(venv, "bin", "python")


def is_venv_shaped(venv):
    """True for a folder this file may remove: one with pyvenv.cfg, or holding nothing but a venv's entries."""
    if not os.path.isdir(venv):
        return False
    entries = set(os.listdir(venv))
    return "pyvenv.cfg" in entries or entries <= VENV_ENTRIES


def venv_state(venv, requirements):
    """(state, why, version): ('missing', None, None), ('valid', None, '3.11.7') or ('stale', why, the
    version it was made with as pyvenv.cfg or the stamp says).

    Valid: the stamp exists, the venv's python runs and reports the stamp's Python version (a patch release
    of the same interpreter keeps the ABI, so 3.11.7 -> 3.11.9 stays valid) and requirements.txt is the one
    installed. A stamp written by the Makefile before it recorded anything (an empty file) counts when the
    venv's python matches pyvenv.cfg and requirements.txt is not newer; it is then rewritten in full.
    """
    if not os.path.lexists(venv):
        return "missing", None, None
    if not is_venv_shaped(venv):
        listing = ", ".join(sorted(os.listdir(venv))[:4]) if os.path.isdir(venv) else "a file"
        raise SetupError("%s exists but is not a virtual environment (no pyvenv.cfg; it holds %s); move it "
                         "aside or choose another folder with VENV=..., then run make again" % (venv, listing))
    cfg = _pyvenv_cfg(venv)
    made_with = cfg.get("version") or cfg.get("version_info") or "unknown version"
    stamp_path = os.path.join(venv, STAMP)
    if not os.path.isfile(stamp_path):
        return "stale", "has no completed-install stamp (an earlier install failed or was interrupted)", made_with
    with open(stamp_path, "rb") as f:
        text = f.read().decode("utf-8", "replace").strip()
    legacy = not text
    if legacy:
        stamp = {"python_version": made_with, "python": cfg.get("executable", cfg.get("home", "")),
                 "implementation": "CPython", "requirements_sha256": _sha256(requirements),
                 "finished": "before the stamp recorded anything"}
        if os.path.getmtime(requirements) > os.path.getmtime(stamp_path):
            return "stale", "was built from an older requirements.txt", made_with
    else:
        try:
            stamp = json.loads(text)
        except ValueError:
            stamp = None
        if not isinstance(stamp, dict) or not {"python_version", "requirements_sha256"} <= set(stamp):
            return "stale", "has an unreadable completed-install stamp", made_with
    info = probe(_venv_python(venv))
    if not isinstance(info, dict):
        return "stale", "was made with Python %s and its python no longer runs (%s)" % (
            stamp["python_version"], info), stamp["python_version"]
    if dotted(info["version"][:2]) != ".".join(stamp["python_version"].split(".")[:2]):
        return "stale", "was made with Python %s but its python now reports %s" % (
            stamp["python_version"], dotted(info["version"])), stamp["python_version"]
    if stamp["requirements_sha256"] != _sha256(requirements):
        return "stale", "was built from another requirements.txt", stamp["python_version"]
    if legacy:
        try:
            _write_stamp(venv, stamp)
        except OSError:
            pass  # still valid; the next run tries again
    return "valid", None, stamp["python_version"]


def _write_stamp(venv, stamp):
    path = os.path.join(venv, STAMP)
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    os.rename(path + ".tmp", path)


def remove_venv(venv):
    """Remove a venv-shaped folder; through a symlink (a .venv on a bigger disk) only its contents go."""
    if not os.path.lexists(venv):
        return
    if not is_venv_shaped(venv):
        raise SetupError("%s is not a virtual environment any more; remove it by hand" % venv)
    if os.path.islink(venv):
        for entry in os.listdir(venv):
            path = os.path.join(venv, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    else:
        shutil.rmtree(venv)


def need_bytes():
    text = os.environ.get("SETUP_NEED_GB", "") or str(NEED_GB)
    if not re.match(r"^\d+(\.\d*)?$", text.strip()):
        raise SetupError("SETUP_NEED_GB=%s is not a number of gigabytes; unset it or give one, e.g. 6" % text)
    return float(text) * 1e9


def pip_cache_dir():
    """Where pip caches downloads, as pip decides from the environment; None when caching is off."""
    if os.environ.get("PIP_NO_CACHE_DIR", "").lower() not in ("", "0", "false", "no", "off"):
        return None
    if os.environ.get("PIP_CACHE_DIR"):
        return os.path.expanduser(os.environ["PIP_CACHE_DIR"])
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/pip")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pip")


def _existing(path):
    """The nearest existing folder at or above path (pip creates the cache when it first writes)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def _tree_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _gb(n, digits=1):
    return "%.*f GB" % (digits, n / 1e9)


def check_space(venv, goal, replacing):
    """SetupError naming every disk the install writes to that has less than need_bytes() free."""
    need = need_bytes()
    places = [(os.path.dirname(os.path.realpath(venv)), venv, "free space there"),
              (pip_cache_dir(), "pip's cache", "set PIP_CACHE_DIR to a folder on a bigger disk"),
              (tempfile.gettempdir(), "pip's temporary folder", "set TMPDIR to a folder on a bigger disk")]
    disks = []  # [device, path shown, roles, hints]
    for path, role, hint in places:
        if path is None:
            continue
        device = os.stat(_existing(path)).st_dev
        for disk in disks:
            if disk[0] == device:
                disk[2].append(role)
                disk[3].append(hint)
                break
        else:
            disks.append([device, path, [role], [hint]])
    short, hints = [], []
    for device, path, roles, disk_hints in disks:
        free = shutil.disk_usage(_existing(path)).free
        if free < need and replacing and os.stat(venv).st_dev == device:
            free += _tree_bytes(venv)  # the old .venv goes first
        if free < need:
            short.append("%s (%s) has %s" % (path, ", ".join(roles), _gb(free)))
            hints.extend(h for h in disk_hints if h not in hints)
    if short:
        raise SetupError("the install needs about %s free (PyTorch's wheel carries CUDA) but %s; %s, then run "
                         "make %s again" % (_gb(need, 0), " and ".join(short), " or ".join(hints), goal))


def _shown(path):
    """path relative to the current folder when it lies inside it (the log's name in messages)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def log_path(venv):
    return os.path.normpath(venv) + "-install.log"


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def venv_failure(output, status, info, venv, log, goal):
    """The line for a failed `python -m venv`."""
    if "ensurepip is not available" in " ".join(output.split()) or "No module named venv" in output \
            or "No module named ensurepip" in output:
        m = re.search(r"apt(?:-get)? install (python3[\w.]*-venv)", output)
        package = m.group(1) if m else "python%d.%d-venv" % info["version"][:2]
        return ("Python %s (%s) cannot create %s: Debian and Ubuntu ship venv's ensurepip apart from Python; "
                "install it with `sudo apt install %s`, then run make %s again"
                % (dotted(info["version"]), info["executable"], venv, package, goal))
    return ("`%s -m venv %s` failed (%s); see %s" % (info["executable"], venv, _last_error(output, status), log))


def _last_error(output, status):
    if status < 0:
        return "stopped by %s" % _signal_name(-status)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:") or "Error" in line]
    last = (errors or lines or ["no output"])[-1]
    return "exit status %d: %s" % (status, last if len(last) <= 160 else last[:157] + "...")


def pip_failure(output, status, info, requirements, log, goal):
    """The line for a failed `pip install -r requirements.txt`."""
    tail = "(.venv removed; pip's output: %s)" % log
    for sign in NO_SPACE_SIGNS:
        if sign in output:
            return ("the disk filled up during the install (%s); free about %s and run make %s again %s"
                    % (sign, _gb(need_bytes(), 0), goal, tail))
    for sign in NETWORK_SIGNS:
        if sign in output:
            return ("pip could not reach the package index (%s); check the network, proxy or index settings "
                    "and run make %s again %s" % (sign, goal, tail))
    if status < 0:
        return "pip was stopped by %s; run make %s again %s" % (_signal_name(-status), goal, tail)
    m = re.search(r"No matching distribution found for (\S+)", output)
    if m:
        return ("pip found no %s for Python %s on %s %s; requirements.txt's pins need CPython %s on a platform "
                "PyTorch ships wheels for %s" % (m.group(1), dotted(info["version"]), platform.system(),
                                                   platform.machine(), supported_text(), tail))
    return "pip install -r %s failed (%s) %s" % (requirements, _last_error(output, status), tail)


_child = [None]  # the running venv or pip process, for the clean-up


def _run_logged(cmd, logf):
    """Run cmd with its output appended to the open log; (exit status, that output)."""
    logf.write("\n$ %s\n" % " ".join(cmd))
    logf.flush()
    start = logf.tell()
    with open(os.devnull, "rb") as null:
        _child[0] = subprocess.Popen(cmd, stdin=null, stdout=logf, stderr=subprocess.STDOUT)
        status = _child[0].wait()
    _child[0] = None
    with open(logf.name, "rb") as f:
        f.seek(start)
        return status, f.read().decode("utf-8", "replace")


def _stop_child():
    proc = _child[0]
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _child[0] = None


def _raise_interrupted(signum, _frame):
    raise _Interrupted(_signal_name(signum))


def _lock(logf, venv, log, goal):
    """Lock the open log for this build. venv and pip inherit it as their output, so the lock lasts as long
    as they run, even after a make that was killed: a second make (another terminal, or the next attempt
    while the orphaned pip still runs) stops instead of building into the same folder."""
    if fcntl is None:
        return
    try:
        fcntl.flock(logf.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise SetupError("another make is building %s right now (its pip's output: %s); wait for it to finish, "
                         "then run make %s again" % (venv, log, goal))


def build(info, venv, requirements, goal, replacing=None):
    """Create venv in place with the probed interpreter and install requirements into it, first removing the
    stale one that `replacing` says why of. On a failure or an interrupt (SIGINT, SIGTERM, SIGHUP) the venv
    is removed again and SetupError raised."""
    log = _shown(log_path(venv))
    with open(log_path(venv), "a") as logf:
        _lock(logf, venv, log, goal)
        logf.seek(0)
        logf.truncate()
        _build_locked(info, venv, requirements, goal, replacing, logf, log)
    _say("%s is ready: Python %s with %s installed" % (venv, dotted(info["version"]), requirements))


def _build_locked(info, venv, requirements, goal, replacing, logf, log):
    catch = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {}
    for s in catch:
        if signal.getsignal(s) != signal.SIG_IGN:
            previous[s] = signal.signal(s, _raise_interrupted)
    touched = False  # whether venv holds anything of this attempt's to remove
    try:
        if replacing:
            _say(replacing)
            touched = True
            remove_venv(venv)
        _say("creating %s with Python %s (%s) and installing %s into it: about %s, a few minutes; pip's output "
             "goes to %s" % (venv, dotted(info["version"]), info["executable"], requirements,
                             _gb(need_bytes(), 0), log))
        logf.write("make %s: %s, %s\n" % (goal, venv, datetime.datetime.now().isoformat(timespec="seconds")))
        touched = True
        status, output = _run_logged([info["executable"], "-m", "venv", venv], logf)
        if status != 0:
            raise SetupError(venv_failure(output, status, info, venv, log, goal))
        status, output = _run_logged([_venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check",
                                      "-r", requirements], logf)
        if status != 0:
            raise SetupError(pip_failure(output, status, info, requirements, log, goal))
        _write_stamp(venv, {"python_version": dotted(info["version"]), "python": info["executable"],
                            "implementation": info["implementation"], "requirements_sha256": _sha256(requirements),
                            "finished": datetime.datetime.now().isoformat(timespec="seconds")})
    except (KeyboardInterrupt, _Interrupted) as e:
        for s in [signal.SIGINT] + catch:
            signal.signal(s, signal.SIG_IGN)  # the clean-up is not to be cut short
        _stop_child()
        if touched:
            remove_venv(venv)
        raise SetupError("the install was interrupted (%s); %s was removed, so the next make %s starts afresh "
                         "(pip's output: %s)" % (str(e) or "SIGINT", venv, goal, log))
    except BaseException:
        _stop_child()
        if touched:
            remove_venv(venv)
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def setup(python, venv, requirements, goal, explicit):
    """Keep a complete venv or build one; 0, or SetupError."""
    state, why, version = venv_state(venv, requirements)
    if state == "valid" and explicit:
        info = check_interpreter(python, goal)
        if dotted(info["version"][:2]) != ".".join(version.split(".")[:2]):
            state, why = "stale", "was made with Python %s and PYTHON=%s is Python %s" % (
                version, python, dotted(info["version"]))
    if state == "valid":
        if "setup" in goal.split():
            _say("%s is complete: Python %s with %s installed" % (venv, version, requirements))
        return 0
    info = check_interpreter(python, goal)
    if sys.version_info < (3, 6):
        raise SetupError("this file needs Python 3.6 or newer to build %s and runs on %s; run it with PYTHON "
                         "itself: %s %s" % (venv, dotted(sys.version_info[:3]), python, " ".join(sys.argv)))
    check_space(venv, goal, state == "stale")
    replacing = None
    if state == "stale":
        replacing = "%s (Python %s) %s; removing it and building it again with Python %s" % (
            venv, version, why, dotted(info["version"]))
    build(info, venv, requirements, goal, replacing)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter to build the venv with")
    parser.add_argument("--venv", default=".venv", help="the virtual environment's folder")
    parser.add_argument("--requirements", default="requirements.txt")
    parser.add_argument("--goal", default="setup", help="the make goal, as the messages repeat it")
    parser.add_argument("--explicit", action="store_true",
                        help="PYTHON was chosen on make's command line: a venv of another version is rebuilt")
    args = parser.parse_args(argv)
    try:
        return setup(args.python, args.venv, args.requirements, args.goal, args.explicit)
    except SetupError as e:
        sys.stdout.flush()
        sys.stderr.write("error: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted before %s was changed; run make %s again\n" % (args.venv, args.goal))
        return 2


if __name__ == "__main__":
    sys.exit(main())
