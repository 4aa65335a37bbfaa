"""A throwaway single-node SLURM on localhost, with accounting, for the slurm tests.

Starts (as root) munged, a private MariaDB, slurmdbd, slurmctld and slurmd from Debian's
packages, every file under one state directory (default /tmp/camsis-slurm, or
$CAMSIS_SLURM_DIR), configured by a generated slurm.conf that nothing else reads:
clients find it through SLURM_CONF. Nothing in /etc is changed and no system service is
touched; only loopback addresses are used.

    python tests/slurm/cluster.py start    # installs the packages if missing; prints SLURM_CONF
    python tests/slurm/cluster.py status
    python tests/slurm/cluster.py stop     # stops what start started, removes the state dir

Both start and stop are idempotent and need no stdin. Standard library only, so that the
system python3 can run it as well as the project's venv.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("camsis.tests.slurm")

PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client", "slurmdbd", "mariadb-server"]
BINARIES = ["munged", "munge", "unmunge", "slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "sacctmgr", "sinfo",
            "mariadbd", "mariadb-install-db", "mariadb"]
CLUSTER = "camsis"
PARTITION = "debug"
DB_NAME = "slurm_acct_db"
DB_USER = "slurm"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
# Where SLURM clients look when SLURM_CONF is unset (after /etc/slurm/slurm.conf): the jobstep
# executor strips SLURM_* from the environment of its srun, so the config must be found there.
SITE_CONF = Path("/etc/slurm/slurm.conf")
RUN_CONF_DIR = Path("/run/slurm/conf")
# Daemons in the order they are stopped; each line: name, binary name in /proc/<pid>/comm.
DAEMONS = [("slurmd", "slurmd"), ("slurmctld", "slurmctld"), ("slurmdbd", "slurmdbd"),
           ("mariadbd", "mariadbd"), ("munged", "munged")]


class ClusterUnavailable(RuntimeError):
    """The machine cannot run the SLURM daemons (no root, no packages, a daemon that will not start)."""


def default_state_dir() -> Path:
    return Path(os.environ.get("CAMSIS_SLURM_DIR", Path(tempfile.gettempdir()) / "camsis-slurm"))


@dataclass
class Cluster:
    """Paths of one throwaway cluster; `env` is what a client (sbatch, snakemake) needs."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def pidfile(self, daemon: str) -> Path:
        return self.root / "run" / f"{daemon}.pid"

    def logfile(self, daemon: str) -> Path:
        return self.root / "log" / f"{daemon}.log"

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster."""
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=check, timeout=timeout)


# ---------------------------------------------------------------- installing


def ensure_installed() -> None:
    """apt-get install the packages whose programs are missing (root only)."""
    missing = [b for b in BINARIES if shutil.which(b, path=_sbin_path()) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable(f"SLURM programs missing ({', '.join(missing)}) and not root to install them")
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable(f"SLURM programs missing ({', '.join(missing)}) and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("installing %s", " ".join(PACKAGES))
    for cmd in (["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise ClusterUnavailable(f"{' '.join(cmd[:2])} failed: {_tail(done.stdout + done.stderr)}")
    still = [b for b in BINARIES if shutil.which(b, path=_sbin_path()) is None]
    if still:
        raise ClusterUnavailable(f"installed {' '.join(PACKAGES)} but still missing {', '.join(still)}")


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])


def _which(binary: str) -> str:
    found = shutil.which(binary, path=_sbin_path())
    if found is None:
        raise ClusterUnavailable(f"{binary} not found")
    return found


# ---------------------------------------------------------------- configuration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_resources() -> tuple[int, int]:
    """CPUs and RealMemory (MB) to declare: what the machine has, memory less a margin."""
    cpus = os.cpu_count() or 1
    with open("/proc/meminfo") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    return cpus, int(kb / 1024 * 0.9)


def write_config(cluster: Cluster, db_password: str) -> None:
    root = cluster.root
    host = socket.gethostname().split(".")[0]
    cpus, memory = _node_resources()
    ports = {name: _free_port() for name in ("ctld", "slurmd", "dbd", "mysql")}
    (root / "ports").write_text(" ".join(f"{k}={v}" for k, v in ports.items()) + "\n")
    slurm_conf = f"""\
# generated by tests/slurm/cluster.py for a throwaway single-node cluster on {host}
ClusterName={CLUSTER}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ports['ctld']}
SlurmdPort={ports['slurmd']}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={root}/spool/ctld
SlurmdSpoolDir={root}/spool/d
SlurmctldPidFile={cluster.pidfile('slurmctld')}
SlurmdPidFile={cluster.pidfile('slurmd')}
SlurmctldLogFile={cluster.logfile('slurmctld')}
SlurmdLogFile={cluster.logfile('slurmd')}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
MpiDefault=none
MinJobAge=300
KillWait=5
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports['dbd']}
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
NodeName={host} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    dbd_conf = f"""\
# generated by tests/slurm/cluster.py
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost={host}
DbdPort={ports['dbd']}
SlurmUser=root
PidFile={cluster.pidfile('slurmdbd')}
LogFile={cluster.logfile('slurmdbd')}
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mysql']}
StorageUser={DB_USER}
StoragePass={db_password}
StorageLoc={DB_NAME}
"""
    cluster.conf.write_text(slurm_conf)
    dbd = root / "etc" / "slurmdbd.conf"
    dbd.write_text(dbd_conf)
    dbd.chmod(0o600)  # slurmdbd refuses a readable file holding the password


def _link_run_conf(cluster: Cluster) -> None:
    """Point /run/slurm/conf at our etc/, the place clients read when SLURM_CONF is unset."""
    if SITE_CONF.exists():
        raise ClusterUnavailable(f"{SITE_CONF} exists: this machine has its own SLURM, which the test cluster would clash with")
    if RUN_CONF_DIR.is_symlink() or RUN_CONF_DIR.exists():
        if not _is_our_link(RUN_CONF_DIR, cluster):
            raise ClusterUnavailable(f"{RUN_CONF_DIR} exists and is not ours: another SLURM runs here")
        RUN_CONF_DIR.unlink()
    RUN_CONF_DIR.parent.mkdir(parents=True, exist_ok=True)
    RUN_CONF_DIR.symlink_to(cluster.conf.parent)


def _is_our_link(path: Path, cluster: Cluster) -> bool:
    return path.is_symlink() and Path(os.readlink(path)) == cluster.conf.parent


def _ports(cluster: Cluster) -> dict[str, int]:
    text = (cluster.root / "ports").read_text().split()
    return {k: int(v) for k, v in (item.split("=") for item in text)}


# ---------------------------------------------------------------- daemons


def _alive(cluster: Cluster, daemon: str, comm: str) -> int | None:
    """The pid from the daemon's pidfile, if that process is alive and is the daemon."""
    try:
        pid = int(cluster.pidfile(daemon).read_text().split()[0])
        with open(f"/proc/{pid}/comm") as fh:
            return pid if fh.read().strip() == comm else None
    except (OSError, ValueError, IndexError):
        return None


def _wait(what: str, ready, timeout: float, cluster: Cluster, daemon: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise ClusterUnavailable(f"{what} not ready after {timeout:.0f}s; {daemon} log: {_tail(_read(cluster.logfile(daemon)))}")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:])


def _munge_works() -> bool:
    """True when a munged answers on the standard socket (slurmdbd's clients use no other)."""
    try:
        cred = subprocess.run([_which("munge"), "-n"], capture_output=True, stdin=subprocess.DEVNULL, timeout=10)
        if cred.returncode != 0:
            return False
        return subprocess.run([_which("unmunge")], input=cred.stdout, capture_output=True,
                              timeout=10).returncode == 0
    except (ClusterUnavailable, subprocess.TimeoutExpired):
        return False


def _start_munged(cluster: Cluster) -> None:
    """Use a munged already serving the standard socket, or start our own there with a fresh key."""
    if _munge_works():
        log.info("using the munged already running on %s", MUNGE_SOCKET)
        return
    munge = cluster.root / "munge"
    key = munge / "munge.key"
    subprocess.run([_which("mungekey"), "--create", "--keyfile", str(key)], check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)
    key.chmod(0o400)
    MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [_which("munged"), "--force", f"--socket={MUNGE_SOCKET}", f"--key-file={key}",
         f"--pid-file={cluster.pidfile('munged')}", f"--log-file={cluster.logfile('munged')}",
         f"--seed-file={munge / 'munged.seed'}"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ClusterUnavailable(f"munged would not start: {_tail(done.stderr + done.stdout)}")
    _wait("munged", _munge_works, 20, cluster, "munged")


def _start_mariadb(cluster: Cluster, db_password: str) -> None:
    data = cluster.root / "mysql" / "data"
    sock = cluster.root / "mysql" / "mysqld.sock"
    done = subprocess.run(
        [_which("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=socket", "--skip-test-db"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ClusterUnavailable(f"mariadb-install-db failed: {_tail(done.stdout + done.stderr)}")
    with open(cluster.logfile("mariadbd"), "ab") as out:
        proc = subprocess.Popen(
            [_which("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={sock}",
             f"--port={_ports(cluster)['mysql']}", "--bind-address=127.0.0.1", "--user=root",
             f"--pid-file={cluster.pidfile('mariadbd')}", "--innodb-buffer-pool-size=128M",
             "--innodb-log-file-size=64M", "--innodb-lock-wait-timeout=900", "--skip-name-resolve"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    client = [_which("mariadb"), "--no-defaults", f"--socket={sock}", "-u", "root"]

    def ready() -> bool:
        if proc.poll() is not None:
            raise ClusterUnavailable(f"mariadbd exited: {_tail(_read(cluster.logfile('mariadbd')))}")
        return subprocess.run([*client, "-e", "SELECT 1"], capture_output=True,
                              stdin=subprocess.DEVNULL).returncode == 0

    _wait("mariadbd", ready, 60, cluster, "mariadbd")
    sql = (f"CREATE DATABASE IF NOT EXISTS {DB_NAME}; "
           f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{db_password}'; "
           f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1'; FLUSH PRIVILEGES;")
    done = subprocess.run([*client, "-e", sql], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ClusterUnavailable(f"creating the accounting database failed: {done.stderr.strip()}")


def _start_daemon(cluster: Cluster, daemon: str, *args: str) -> None:
    """Start a self-daemonising SLURM daemon and wait for its pidfile."""
    env = {**cluster.env, "SLURM_CONF": str(cluster.conf)}
    done = subprocess.run([_which(daemon), *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    if done.returncode != 0:
        raise ClusterUnavailable(f"{daemon} would not start: {_tail(done.stderr + done.stdout)} "
                                 f"{_tail(_read(cluster.logfile(daemon)))}")
    _wait(daemon, lambda: _alive(cluster, daemon, daemon) is not None, 30, cluster, daemon)


def _node_idle(cluster: Cluster) -> bool:
    done = cluster.run("sinfo", "--noheader", "-o", "%t", check=False, timeout=20)
    return done.returncode == 0 and done.stdout.split() and done.stdout.split()[0] in ("idle", "mix")


def _sacctmgr_ready(cluster: Cluster) -> bool:
    return cluster.run("sacctmgr", "-n", "list", "cluster", check=False, timeout=20).returncode == 0


def status(state_dir: Path | None = None) -> str | None:
    """'running' with the node state, or None when this cluster is not (fully) up."""
    cluster = Cluster(state_dir or default_state_dir())
    if not cluster.conf.exists():
        return None
    ours = [(d, comm) for d, comm in DAEMONS if d != "munged" or cluster.pidfile(d).exists()]
    if any(_alive(cluster, d, comm) is None for d, comm in ours) or not _munge_works():
        return None
    done = cluster.run("sinfo", "--noheader", "-o", "%P %t %c %m", check=False, timeout=20)
    return done.stdout.strip() if done.returncode == 0 else None


def start(state_dir: Path | None = None) -> Cluster:
    """Bring the cluster up (or find it up) and return it; raises ClusterUnavailable."""
    cluster = Cluster(state_dir or default_state_dir())
    if status(cluster.root) is not None and _node_idle(cluster):
        log.info("SLURM already running under %s", cluster.root)
        return cluster
    if os.geteuid() != 0:
        raise ClusterUnavailable("the single-node SLURM needs root (its daemons run as root)")
    stop(cluster.root)  # whatever half of a previous cluster is left
    ensure_installed()
    for sub in ("etc", "run", "log", "munge", "mysql", "spool/ctld", "spool/d"):
        (cluster.root / sub).mkdir(parents=True, exist_ok=True)
    cluster.root.chmod(0o755)
    db_password = os.urandom(12).hex()
    write_config(cluster, db_password)
    try:
        _link_run_conf(cluster)
        _start_munged(cluster)
        _start_mariadb(cluster, db_password)
        _start_daemon(cluster, "slurmdbd")
        _wait("slurmdbd", lambda: _sacctmgr_ready(cluster), 90, cluster, "slurmdbd")
        listed = cluster.run("sacctmgr", "-n", "-P", "list", "cluster", "format=cluster").stdout.split()
        if CLUSTER not in listed:
            cluster.run("sacctmgr", "-i", "add", "cluster", CLUSTER)
        _start_daemon(cluster, "slurmctld")
        _start_daemon(cluster, "slurmd")
        _wait("the node to be idle in sinfo", lambda: _node_idle(cluster), 90, cluster, "slurmctld")
    except BaseException:
        stop(cluster.root)
        raise
    log.info("SLURM up under %s: %s", cluster.root, status(cluster.root))
    return cluster


def stop(state_dir: Path | None = None) -> None:
    """Cancel the cluster's jobs, stop the daemons it started, remove its state dir."""
    cluster = Cluster(state_dir or default_state_dir())
    if not cluster.root.exists():
        return
    if _alive(cluster, "slurmctld", "slurmctld") is not None:
        cluster.run("scancel", "--full", "--quiet", "--user", str(os.geteuid()), check=False, timeout=20)
    for daemon, comm in DAEMONS:
        pid = _alive(cluster, daemon, comm)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(cluster, daemon, comm) == pid:
            time.sleep(0.2)
        if _alive(cluster, daemon, comm) == pid:
            os.kill(pid, signal.SIGKILL)
    _kill_leftover_steps(cluster)
    if _is_our_link(RUN_CONF_DIR, cluster):
        RUN_CONF_DIR.unlink()
        try:
            RUN_CONF_DIR.parent.rmdir()
        except OSError:
            pass
    shutil.rmtree(cluster.root, ignore_errors=True)


def _kill_leftover_steps(cluster: Cluster) -> None:
    """slurmstepd processes of this cluster's jobs can outlive slurmd: end those started by our slurmd."""
    marker = f"SLURM_CONF={cluster.conf}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "slurmstepd":
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, default=None, help="state directory (default $CAMSIS_SLURM_DIR or /tmp/camsis-slurm)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.action == "stop":
        stop(args.dir)
        return 0
    if args.action == "status":
        state = status(args.dir)
        sys.stdout.write(f"{state}\n" if state else "not running\n")
        return 0 if state else 1
    try:
        cluster = start(args.dir)
    except ClusterUnavailable as exc:
        sys.stderr.write(f"SLURM unavailable: {exc}\n")
        return 2
    sys.stdout.write(f"export SLURM_CONF={cluster.conf}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
