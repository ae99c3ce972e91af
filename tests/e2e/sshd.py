from __future__ import annotations

import errno
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# A loopback git host for the private-dependency build (tests/test_e2e_private.py): Debian's
# OpenSSH sshd (bookworm, 9.2p1) with its own sshd_config, a throwaway host key and a throwaway
# user key, all in a temporary folder; and an ssh-agent holding the user key, as the CI image
# jobs forward theirs. Options as documented in sshd_config.5 of openssh-portable V_9_2_P1.
HOST = "127.0.0.1"
# The Dockerfile runs `ssh-keyscan <host>` and git runs ssh to <host>: both on port 22, since
# private.git_hosts takes host names without ports (docs/private-dependencies.md).
PORT = 22
# sshd refuses to start without its privilege separation directory, compiled in: Debian builds
# it as /run/sshd (openssh-portable sshd.c: "Missing privilege separation directory"), which
# ssh.service makes with RuntimeDirectory=sshd. The test makes it when missing, and removes it.
PRIVSEP_DIR = Path("/run/sshd")
_CONFIG = """\
ListenAddress {host}
Port {port}
HostKey {folder}/host_key
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
AuthenticationMethods publickey
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel VERBOSE
"""
# - AuthorizedKeysFile: an absolute path is used as it is, so root's own ~/.ssh is never read
#   or written.
# - PermitRootLogin prohibit-password (the default, written out): the machine has no `git`
#   user, so the dependency's URL logs in as root, with the key only.
# - UsePAM no: no PAM session modules (Debian's pam_loginuid fails in containers). Without PAM,
#   sshd refuses an account whose password field starts with "!" (auth.c allowed_user,
#   platform_locked_account; configure.ac: LOCKED_PASSWD_PREFIX "!" on Linux): see root_locked.
# - StrictModes no: the key and config live under /tmp, which is world-writable (sticky), and
#   StrictModes checks every directory above the authorized keys file.


@dataclass(frozen=True)
class Sshd:
    folder: Path
    user_key: Path  # the throwaway private key the agent holds
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.folder / "sshd.log").read_text(errors="replace")

    def fingerprint(self) -> str:
        """SHA256:... of the user key, as sshd logs it on "Accepted publickey"."""
        done = _run("ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.user_key}.pub")
        return done.split()[1]


def port_taken(host: str = HOST, port: int = PORT) -> str:
    """Why host:port cannot be served (a listener holds it, or binding it fails), or ""."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as problem:
            held = " (another sshd?)" if problem.errno == errno.EADDRINUSE else ""
            return f"cannot listen on {host}:{port}{held}: {problem}"
    return ""


def root_locked(shadow: Path = Path("/etc/shadow")) -> bool:
    """Whether root's password field is locked ("!..."), which sshd without PAM refuses."""
    for line in shadow.read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == "root":
            return rest.startswith("!")
    return False


def _run(*command: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,  # noqa: S603
                          text=True, env=env, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stderr}")
    return done.stdout


@contextmanager
def serve(sshd: str, folder: Path) -> Iterator[Sshd]:
    """sshd -D on HOST:PORT, serving root with one throwaway key; stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, comment in (("host_key", "cigen-e2e host"), ("user_key", "cigen-e2e user")):
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
             str(folder / name))
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    config = folder / "sshd_config"
    config.write_text(_CONFIG.format(host=HOST, port=PORT, folder=folder))
    made_privsep = not PRIVSEP_DIR.is_dir()
    if made_privsep:
        PRIVSEP_DIR.mkdir(mode=0o755)
    # -D: stay in the foreground, so the process is this Popen's; -E: log to a file.
    process = subprocess.Popen([sshd, "-D", "-f", str(config), "-E", str(folder / "sshd.log")],  # noqa: S603
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    server = Sshd(folder, folder / "user_key", process)
    try:
        _wait_listening(server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        if made_privsep:
            PRIVSEP_DIR.rmdir()


def _wait_listening(server: Sshd) -> None:
    for _ in range(100):
        if server.process.poll() is not None:
            raise RuntimeError(f"sshd exited {server.process.returncode}\n{server.log}")
        with socket.socket() as sock:
            try:
                sock.connect((HOST, PORT))
                return
            except OSError:
                time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on {HOST}:{PORT}\n{server.log}")


@contextmanager
def agent(folder: Path, key: Path) -> Iterator[str]:
    """An ssh-agent holding `key`, on a socket in `folder`; yields the socket, stopped on exit.
    -D keeps it in the foreground (no fork), -a names the socket (ssh-agent(1))."""
    socket_path = folder / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)],  # noqa: S607
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if socket_path.is_socket():
                break
            if process.poll() is not None:
                raise RuntimeError(f"ssh-agent exited {process.returncode}")
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        _run("ssh-add", "-q", str(key), env=env)
        yield str(socket_path)
    finally:
        process.terminate()
        process.wait(timeout=10)
