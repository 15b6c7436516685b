"""What a batch run needs to be safe to repeat and to resume, for both engines.

* ``check_output_paths``: no output may be an input (or another output);
  writing there would truncate the input before reading it.
* ``OutputLock``: an OS lock (``flock``) on ``OUT.lock`` for the whole run;
  a second run on the same output is refused, naming the holder.
* ``run_identity``: the resolved inputs with their file identity (device,
  inode, size, mtime), the model (name and weights sha256) and the options
  that change the output. It heads the ledger; ``--resume`` compares it and
  refuses, naming the difference.
* ``Ledger``: the header line, then one line per committed chunk.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import socket
from pathlib import Path

from persian_ie.errors import LedgerError, OutputLockedError, OutputPathError, ResumeMismatchError
from persian_ie.inference.inputs import input_files, resolved

LEDGER_VERSION = 2


# ---- output paths ----------------------------------------------------------
def _same_file(a: Path, b: Path) -> bool:
    if resolved(a) == resolved(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def check_output_paths(inputs, outputs: dict[str, Path]) -> None:
    """Raise ``OutputPathError`` if an output is an input or two outputs coincide."""
    named = list(outputs.items())
    for name, path in named:
        if path.is_dir():  # found before the model loads, not when the first chunk is written
            raise OutputPathError(f"{name} {path} is a folder; give the path of a file" + (f", e.g. {path / 'facts.jsonl'}" if name.startswith("--") else ""))
    for i, (name, path) in enumerate(named):
        for other_name, other in named[i + 1:]:
            if _same_file(path, other):
                raise OutputPathError(f"{name} and {other_name} are the same file ({path}); give them different paths")
    files = input_files(inputs)
    folders = [resolved(p) for p in inputs if Path(p).is_dir()]
    for name, path in named:
        if path.suffix == ".txt" and resolved(path.parent) in folders:  # it would be read as an input once written
            raise OutputPathError(f"{name} {path} is a .txt file inside the input folder {path.parent}; choose another path")
        for given in list(map(Path, inputs)) + files:
            if _same_file(path, given):
                raise OutputPathError(f"{name} {path} is an input ({given}); writing it would destroy the input. Choose another path")


# ---- the lock ----------------------------------------------------------------
class OutputLock:
    """An exclusive ``flock`` on ``OUT.lock`` held for the run; the file
    names the holder (pid, host, start). The file stays: removing a lock
    file races with a run that is opening it."""

    def __init__(self, out: Path):
        self.path = out.with_name(out.name + ".lock")
        self.fh = None

    def __enter__(self) -> "OutputLock":
        import fcntl

        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown holder"
            fh.close()
            raise OutputLockedError(f"{self.path.with_suffix('')} is being written by another run ({holder}); "
                                    f"wait for it to finish or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on host {socket.gethostname()}, since {_dt.datetime.now().isoformat(timespec='seconds')}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()  # closing releases the lock
            self.fh = None


# ---- identity of a run -------------------------------------------------------
_WEIGHTS_CACHE: dict[tuple, str] = {}


def weights_sha256(model_dir) -> str | None:
    """sha256 over the directory's ``*.safetensors`` files (sorted), cached by
    path, size and mtime so a process hashes a model once."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return None
    key = tuple((resolved(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if key not in _WEIGHTS_CACHE:
        digest = hashlib.sha256()
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        _WEIGHTS_CACHE[key] = digest.hexdigest()
    return _WEIGHTS_CACHE[key]


def model_identity(model_dir, name: str | None = None) -> dict:
    if model_dir is None or not Path(model_dir).is_dir():
        return {"name": name, "dir": None, "weights_sha256": None}
    return {"name": name or Path(model_dir).name, "dir": resolved(model_dir), "weights_sha256": weights_sha256(model_dir)}


def _file_identity(path: Path) -> dict:
    entry = {"path": resolved(path)}
    try:
        st = os.stat(path)
    except OSError as exc:
        return {**entry, "error": exc.strerror or str(exc)}
    if path.is_dir():
        return {**entry, "kind": "folder"}  # its entries are keyed one by one
    return {**entry, "dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def run_identity(inputs, model: dict, options: dict) -> dict:
    """What must be equal for a resume to continue the same run."""
    return {"inputs": [_file_identity(Path(p)) for p in inputs], "model": model, "options": options}


def identity_difference(saved: dict, now: dict) -> str | None:
    """A sentence naming the first difference between two run identities, or None."""
    old_paths = [e["path"] for e in saved.get("inputs", [])]
    new_paths = [e["path"] for e in now["inputs"]]
    if old_paths != new_paths:
        added = [p for p in new_paths if p not in old_paths]
        missing = [p for p in old_paths if p not in new_paths]
        detail = "; ".join(filter(None, [f"added {added}" if added else "", f"missing {missing}" if missing else ""])) or "the order differs"
        return f"the inputs differ ({detail})"
    for old, new in zip(saved["inputs"], now["inputs"]):
        changed = [k for k in ("dev", "ino", "size", "mtime_ns", "kind") if old.get(k) != new.get(k)]
        if changed:
            how = ", ".join(f"{k} {old.get(k)} -> {new.get(k)}" for k in changed)
            return f"input {new['path']} changed since the run began ({how})"
    old_model, new_model = saved.get("model", {}), now["model"]
    if old_model.get("weights_sha256") != new_model.get("weights_sha256"):
        return (f"the model differs: the run used {old_model.get('name')} ({old_model.get('dir')}, weights sha256 "
                f"{str(old_model.get('weights_sha256'))[:12]}), this one is {new_model.get('name')} ({new_model.get('dir')}, "
                f"weights sha256 {str(new_model.get('weights_sha256'))[:12]})")
    for key in sorted(set(saved.get("options", {})) | set(now["options"])):
        if saved.get("options", {}).get(key) != now["options"].get(key):
            return f"option {key} differs: {saved.get('options', {}).get(key)!r} then, {now['options'].get(key)!r} now"
    return None


def check_same_run(where: Path, saved: dict, now: dict) -> None:
    difference = identity_difference(saved, now)
    if difference:
        raise ResumeMismatchError(f"cannot resume the run recorded in {where}: {difference}. "
                                  f"Rerun without --resume to start over (or give the same inputs, model and options)")


# ---- the ledger ----------------------------------------------------------------
class Ledger:
    """``OUT.ledger``: a header line (``{"ledger": 2, "run": identity}``), then
    one line per committed chunk: its record keys and the byte sizes of the
    output and errors files after it. A last line without its newline is a
    commit that did not finish: it is ignored and cut off."""

    def __init__(self, out: Path):
        self.path = out.with_name(out.name + ".ledger")

    def start(self, identity: dict) -> None:
        self._append({"ledger": LEDGER_VERSION, "run": identity}, mode="w")

    def read(self) -> tuple[dict, set[str], int, int]:
        """``(run identity, committed keys, out bytes, errors bytes)``; a
        corrupt ledger raises ``LedgerError`` naming the line."""
        with open(self.path, "rb") as fh:
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        lines = complete.splitlines()
        if not lines:
            raise LedgerError(f"{self.path} is empty or torn before its header; rerun without --resume to start over")
        header = self._parse(1, lines[0])
        if header.get("ledger") != LEDGER_VERSION or not isinstance(header.get("run"), dict):
            raise LedgerError(f"{self.path}:1: not a version-{LEDGER_VERSION} ledger header (written by an older persian-ie?); "
                              f"rerun without --resume to start over")
        done, out_bytes, err_bytes = set(), 0, 0
        for number, line in enumerate(lines[1:], start=2):
            entry = self._parse(number, line)
            keys, new_out, new_err = entry.get("keys"), entry.get("out_bytes"), entry.get("err_bytes")
            if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys) and _size(new_out) and _size(new_err)):
                raise LedgerError(f"{self.path}:{number}: a commit needs 'keys' (a list of strings) and byte sizes "
                                  f"'out_bytes'/'err_bytes'; got {line[:80]!r}")
            if new_out < out_bytes or new_err < err_bytes:
                raise LedgerError(f"{self.path}:{number}: byte sizes go backwards ({out_bytes} -> {new_out}, {err_bytes} -> {new_err})")
            done.update(keys)
            out_bytes, err_bytes = new_out, new_err
        if len(complete) < len(data):  # drop the torn commit so the next one starts on its own line
            with open(self.path, "r+b") as fh:
                fh.truncate(len(complete))
        return header["run"], done, out_bytes, err_bytes

    def _parse(self, number: int, line: bytes) -> dict:
        try:
            entry = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise LedgerError(f"{self.path}:{number}: not valid UTF-8 (byte {exc.start}); the ledger is corrupt, "
                              f"rerun without --resume to start over") from None
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or nesting too deep
            raise LedgerError(f"{self.path}:{number}: malformed JSON ({getattr(exc, 'msg', type(exc).__name__)}); the ledger is corrupt, "
                              f"rerun without --resume to start over") from None
        if not isinstance(entry, dict):
            raise LedgerError(f"{self.path}:{number}: a ledger line must be a JSON object, got {line[:60]!r}")
        return entry

    def commit(self, keys: list[str], out_bytes: int, err_bytes: int) -> None:
        self._append({"keys": keys, "out_bytes": out_bytes, "err_bytes": err_bytes})

    def _append(self, entry: dict, mode: str = "a") -> None:
        with open(self.path, mode, encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
