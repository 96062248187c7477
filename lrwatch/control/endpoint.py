"""Where a run's control endpoint lives: socket paths, TCP binding, token and command files.

A log ``runs/exp1.jsonl`` has neighbours ``runs/exp1.sock`` (Unix socket), ``runs/exp1.token``
(TCP token, mode 0600) and ``runs/exp1.cmd`` (file transport). Unix socket paths are limited
to ~107 bytes by the OS, so a long path falls back to a private directory under
``$XDG_RUNTIME_DIR`` or ``/tmp/lrwatch-$UID``.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import secrets
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lrwatch.control import owned

#: Longest usable AF_UNIX path (sun_path is 108 bytes on Linux, 104 on macOS, NUL included).
MAX_SOCKET_PATH = 103 if os.uname().sysname == "Darwin" else 107


#: Listen backlog of a TCP endpoint (see bind_tcp).
TCP_BACKLOG = 1024


class EndpointError(Exception):
    """An endpoint that cannot be parsed, bound or trusted."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed endpoint: ``kind`` is ``unix``, ``tcp`` or ``file``."""

    kind: str
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "tcp":
            return f"tcp://{self.host}:{self.port}"
        return f"{self.kind}:{self.path}"


def parse_endpoint(text: str) -> Endpoint:
    """Parse ``unix:/p.sock``, ``/p.sock``, ``tcp://host:port`` or ``file:/log.jsonl``."""
    if text.startswith("tcp://"):
        host, sep, port = text[6:].rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise EndpointError(f"bad TCP endpoint {text!r}: expected tcp://HOST:PORT")
        return Endpoint("tcp", host=host.strip("[]"), port=int(port))
    if text.startswith("unix:"):
        return Endpoint("unix", path=text[5:])
    if text.startswith("file:"):
        return Endpoint("file", path=text[5:])
    if text and "://" not in text:
        return Endpoint("unix", path=text)
    raise EndpointError(f"bad endpoint {text!r}: use unix:PATH, tcp://HOST:PORT or file:LOG")


def sibling(log_path: str | os.PathLike[str], suffix: str) -> Path:
    """``runs/exp1.jsonl`` → ``runs/exp1<suffix>``."""
    path = Path(log_path)
    return path.with_suffix(suffix) if path.suffix else path.with_name(path.name + suffix)


def private_dir() -> Path:
    """A directory only this user can use: ``$XDG_RUNTIME_DIR/lrwatch`` or ``/tmp/lrwatch-UID``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "lrwatch" if runtime else Path(tempfile.gettempdir())
    path = base if runtime else base / f"lrwatch-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(path)
    return path


def _check_private(path: Path) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise EndpointError(f"{path} is not a directory owned by you; refusing to use it")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def _safe_for_socket(directory: Path) -> bool:
    """A directory where nobody else can put a socket in place of ours, and we can write."""
    try:
        st = os.stat(directory)
    except OSError:
        return False
    # In a directory someone else owns, or can write to, they could plant or replace a socket.
    return st.st_uid == os.getuid() and not st.st_mode & 0o022 and os.access(directory, os.W_OK)


def socket_path_for(log_path: str | os.PathLike[str]) -> Path:
    """The Unix socket path of a log: next to it, or in :func:`private_dir` when too long."""
    path = sibling(Path(log_path).absolute(), ".sock")
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH and _safe_for_socket(path.parent):
        return path
    return private_socket_path(log_path)


def private_socket_path(log_path: str | os.PathLike[str]) -> Path:
    """The socket path of a log in :func:`private_dir`, named by a hash of the log path."""
    path = sibling(Path(log_path).absolute(), ".sock")
    digest = hashlib.sha1(os.fsencode(path)).hexdigest()[:16]
    return private_dir() / f"{digest}.sock"


def is_live(path: str | os.PathLike[str]) -> bool:
    """True when something accepts connections on the Unix socket at ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def bind_unix(path: Path) -> tuple[socket.socket, Path]:
    """Listen on ``path`` (mode 0600), replacing a stale socket but never stealing a live one.

    When a live run already serves ``path``, a per-process name next to it is used instead;
    the caller records the actual path in the run header.
    """
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise EndpointError(f"{path} exists and is not a socket; refusing to replace it")
        if is_live(path):
            path = path.with_name(f"{path.stem}-{os.getpid()}.sock")
            if os.path.lexists(path) and is_live(path):
                raise EndpointError(f"{path} is served by a live process")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bind inside a private temp dir, chmod, then rename into place: the socket is never
    # reachable with looser permissions than 0600, whatever the umask.
    tmpdir = tempfile.mkdtemp(prefix=".lrw", dir=path.parent)
    tmp = os.path.join(tmpdir, "s")
    try:
        sock.bind(tmp)
        os.chmod(tmp, 0o600)
        sock.listen(128)  # before the rename: a client that finds the path is never refused
        os.replace(tmp, path)
    except OSError:
        sock.close()
        raise
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.rmdir(tmpdir)
    sock.setblocking(False)
    return sock, path


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_tcp(host: str, port: int, allow_remote: bool = False) -> tuple[socket.socket, int]:
    """Listen on ``host:port`` (0 picks a port); non-loopback hosts need ``allow_remote``."""
    if not is_loopback(host) and not allow_remote:
        raise EndpointError(
            f"refusing to listen on non-loopback {host!r}; pass allow_remote=True to expose "
            "the control port (a token is still required)"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EndpointError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # A deep backlog (the kernel caps it at net.core.somaxconn): under a flood of tokenless
    # connections the server accepts at a bounded rate, and a full queue would drop the
    # owner's SYN for a second or more; queued, it is accepted in turn.
    sock.listen(TCP_BACKLOG)
    sock.setblocking(False)
    return sock, sock.getsockname()[1]


def write_token(path: Path) -> tuple[str, Path, owned.UntrustedFile | None]:
    """Generate a token and store it with mode 0600 in ``path`` (or, when somebody else
    prepared a file there, in a fresh name). Returns (token, path used, the refusal or None)."""
    # Hex, not urlsafe base64: a token may start with "-" there, and `lrwatch ctl --token
    # -Ab3...` then reads as a missing argument (argparse takes it for an option).
    token = secrets.token_hex(32)
    fd, used, refusal = owned.open_owned_or_fresh(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a token left by an older version may have been readable
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return token, used, refusal


def read_token(path: str | os.PathLike[str]) -> str | None:
    """The token stored in ``path``, or None when the file is absent."""
    try:
        return Path(path).read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.EACCES:
            return None
        raise
