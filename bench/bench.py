#!/usr/bin/env python3
"""svc benchmarks, side by side with Debian's start-stop-daemon.

Run through `bench/run`, which builds svc first. Python 3 standard library only.

Process layout. This process makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER)
and forks a *runner* that does the measuring. Every daemon that either tool detaches ends up
reparented to this process, which does nothing but block in wait(), so a daemon that exits is
reaped at once, as under a prompt PID 1. (A lazy reaper leaves a killed daemon a zombie, and
start-stop-daemon --retry keeps waiting for it.) The runner times each command with
time.perf_counter around spawn + wait4 (which also gives the command's max RSS). When the runner
ends, however it ends (Ctrl-C, exception, SIGTERM), it first stops what it started through the
tools, then this process kills whatever orphan is still reparented to it: nothing is left.

Each benchmark is one function registered with @bench; `--only NAME` picks some, `--rounds N`
sets the rounds (`--big-rounds N` those of the 200-service runlevel benchmarks boot200,
boot200ready, halt200, which start 200 daemons a round). Later benchmarks (inetd, respawn) are
added the same way.
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36
SSD = shutil.which("start-stop-daemon", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or "/sbin/start-stop-daemon"
SLEEP = os.path.realpath(shutil.which("sleep") or "/bin/sleep")
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None  # GNU time, for max RSS
CMD_TIMEOUT = 60.0  # seconds; a command that takes longer is killed and the benchmark fails


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# running and timing commands


class Result:
    def __init__(self, argv, code, seconds, maxrss_kb, stdout, stderr):
        self.argv, self.code, self.seconds, self.maxrss_kb = argv, code, seconds, maxrss_kb
        self.stdout, self.stderr = stdout, stderr

    def describe(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.code}\n--- stdout\n{self.stdout}"
                f"--- stderr\n{self.stderr}")


class Runner:
    """Spawns commands with posix_spawn and times them until they have been waited for."""

    def __init__(self, tmp):
        self.out = os.path.join(tmp, "cmd.out")
        self.err = os.path.join(tmp, "cmd.err")
        self.rssfile = os.path.join(tmp, "cmd.rss")
        self.env = dict(os.environ)
        self.sigdef = [s for s in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
                                   signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD)]

    def run(self, argv, expect=(0,), timeout=CMD_TIMEOUT, rss=False):
        """Runs argv; with rss=True (used in the untimed warm-up rounds) under GNU time to get
        its max RSS. wait4's own ru_maxrss is useless here: posix_spawn shares this Python
        process's memory until exec, and the kernel counts that high-water mark for the child."""
        rss = rss and TIME is not None
        cmd = argv
        if rss:
            cmd = [TIME, "-q", "-f", "%M", "-o", self.rssfile, *argv]
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, self.out, flags, 0o644),
                   (os.POSIX_SPAWN_OPEN, 2, self.err, flags, 0o644)]
        t0 = time.perf_counter()
        pid = os.posix_spawn(cmd[0], cmd, self.env, file_actions=actions,
                             setsigdef=self.sigdef, setsigmask=[])
        code = self._wait(pid, timeout, argv)
        seconds = time.perf_counter() - t0
        if code == -signal.SIGINT:  # Ctrl-C reached the command first
            raise KeyboardInterrupt
        with open(self.out, errors="replace") as f:
            stdout = f.read()
        with open(self.err, errors="replace") as f:
            stderr = f.read()
        maxrss = None
        if rss:
            try:
                with open(self.rssfile) as f:
                    maxrss = int(f.read().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
        r = Result(argv, code, seconds, maxrss, stdout, stderr)
        r.started = t0
        if expect is not None and code not in expect:
            raise BenchError(f"unexpected exit code (wanted {list(expect)}):\n{r.describe()}")
        return r

    @staticmethod
    def _wait(pid, timeout, argv):
        # Blocks in wait4 directly in the common case; a pidfd guards against a hang.
        pidfd = os.pidfd_open(pid)
        try:
            p = select.poll()
            p.register(pidfd, select.POLLIN)
            if not p.poll(timeout * 1000):
                os.kill(pid, signal.SIGKILL)
                os.wait4(pid, 0)
                raise BenchError(f"command timed out after {timeout:.0f}s: {' '.join(argv)}")
        finally:
            os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)


def proc_exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_until(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        os.sched_yield()  # poll tightly: bench_start times how soon the daemon runs


def read_pid(path):
    try:
        with open(path) as f:
            s = f.read().strip()
        return int(s) if s.isdigit() else None
    except OSError:
        return None


def wait_daemon(pidfile):
    """Waits (untimed) until the PID file names a live process running `sleep`; returns its PID."""
    def ok():
        pid = read_pid(pidfile)
        return pid if pid and proc_alive(pid) and proc_exe(pid) == SLEEP else None
    return wait_until(ok, f"a running {SLEEP} named by {pidfile}")


# ---------------------------------------------------------------------------------------------
# the two tools


class Svc:
    def __init__(self, binary, root, runtime, runner):
        self.bin = binary
        self.conf = os.path.join(root, "svc-config")
        self.state = os.path.join(runtime, "svc-state")
        self.logs = os.path.join(root, "svc-log")
        self.r = runner
        self.defined = set()
        os.makedirs(os.path.join(self.conf, "init.d"))

    def define(self, name, args):
        path = os.path.join(self.conf, "init.d", name + ".yaml")
        with open(path, "w") as f:
            f.write(f"exec: {SLEEP}\nargs: {json.dumps(args)}\nstop_timeout: 10\n")
        self.defined.add(name)

    def define_yaml(self, name, text):
        with open(os.path.join(self.conf, "init.d", name + ".yaml"), "w") as f:
            f.write(text)
        self.defined.add(name)

    def argv(self, *args):
        return [self.bin, "--config-dir", self.conf, "--state-dir", self.state,
                "--log-dir", self.logs, "--no-color", *args]

    def pidfile(self, name):
        return os.path.join(self.state, name + ".pid")

    def run(self, *args, expect=(0,), rss=False):
        return self.r.run(self.argv(*args), expect=expect, rss=rss)

    def cleanup(self):
        if self.defined:
            try:
                self.r.run(self.argv("stop", *sorted(self.defined)), expect=None, timeout=30)
            except Exception as e:  # the subreaper kills what is left anyway
                print(f"warning: svc cleanup: {e}", file=sys.stderr)


class Ssd:
    def __init__(self, runtime, runner):
        self.dir = os.path.join(runtime, "ssd")
        self.r = runner
        self.pidfiles = set()
        os.makedirs(self.dir)

    def pidfile(self, name):
        return os.path.join(self.dir, name + ".pid")

    def start_argv(self, name, args):
        self.pidfiles.add(self.pidfile(name))
        return [SSD, "--start", "--background", "--make-pidfile", "--pidfile", self.pidfile(name),
                "--exec", SLEEP, "--", *args]

    def stop_argv(self, name):
        return [SSD, "--stop", "--retry", "TERM/10", "--remove-pidfile",
                "--pidfile", self.pidfile(name), "--exec", SLEEP]

    def status_argv(self, pidfile):
        return [SSD, "--status", "--pidfile", pidfile, "--exec", SLEEP]

    def cleanup(self):
        for p in sorted(self.pidfiles):
            if os.path.exists(p):
                try:
                    self.r.run([SSD, "--stop", "--quiet", "--retry", "KILL/5", "--remove-pidfile",
                                "--pidfile", p, "--exec", SLEEP], expect=None, timeout=30)
                except Exception as e:
                    print(f"warning: start-stop-daemon cleanup: {e}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# statistics and reporting


class Series:
    def __init__(self, label):
        self.label = label
        self.seconds = []
        self.rss = []

    def add(self, res, timed=True):
        """Records a run: its time if timed (a measured round), its max RSS if it was taken."""
        if timed:
            self.seconds.append(res.seconds)
        if res.maxrss_kb:
            self.rss.append(res.maxrss_kb)

    def add_time(self, seconds):
        self.seconds.append(seconds)

    @property
    def median(self):
        return statistics.median(self.seconds)

    @property
    def p90(self):
        s = sorted(self.seconds)  # nearest-rank p90
        return s[max(0, math.ceil(0.9 * len(s)) - 1)]

    def max_rss(self):
        return max(self.rss) if self.rss else None


def ms(seconds):
    return f"{seconds * 1000:8.2f}"


class Report:
    def __init__(self):
        self.rows = []     # (benchmark, Series svc, Series other or None, note)
        self.goals = []    # (benchmark, text, measured text, passed, why-if-missed)
        self.notes = []

    def row(self, bench, svc, other=None, note=""):
        self.rows.append((bench, svc, other, note))

    def goal(self, bench, text, measured, passed, miss_note=""):
        self.goals.append((bench, text, measured, passed, miss_note))

    def print(self, out=sys.stdout):
        w = max([len(r[0]) for r in self.rows] + [9])
        print(f"\n{'benchmark':<{w}}  {'svc median':>10} {'p90':>8}  {'ssd median':>10} {'p90':>8}"
              f"  {'svc/ssd':>7}  {'svc rss':>7} {'ssd rss':>7}  (times in ms, max RSS in KiB)",
              file=out)
        print("-" * (w + 88), file=out)
        for bench, a, b, note in self.rows:
            line = f"{bench:<{w}}  {ms(a.median):>10} {ms(a.p90):>8}  "
            if b is not None:
                line += f"{ms(b.median):>10} {ms(b.p90):>8}  {a.median / b.median:7.3f}  "
            else:
                line += f"{'-':>10} {'-':>8}  {'-':>7}  "
            ra, rb = a.max_rss(), (b.max_rss() if b is not None else None)
            line += f"{ra if ra else '-':>7} {rb if rb else '-':>7}"
            if note:
                line += f"  {note}"
            print(line.rstrip(), file=out)
        if self.goals:
            print("\ngoals:", file=out)
            for bench, text, measured, passed, miss in self.goals:
                verdict = "PASS" if passed else "MISS"
                print(f"  [{verdict}] {bench}: {text}: {measured}", file=out)
                if not passed and miss:
                    print(f"         why: {miss}", file=out)
        for n in self.notes:
            print(f"note: {n}", file=out)


# ---------------------------------------------------------------------------------------------
# benchmarks

BENCHMARKS = {}


def bench(name, help):
    def register(fn):
        BENCHMARKS[name] = (fn, help)
        return fn
    return register


class Ctx:
    def __init__(self, args, svc, ssd, runner, report, tmp):
        self.args, self.svc, self.ssd, self.r, self.report, self.tmp = args, svc, ssd, runner, report, tmp
        self.rounds, self.warmup = args.rounds, args.warmup

    def order(self, i):
        """Alternates which tool goes first in round i, so drift does not favour one."""
        return ("svc", "ssd") if i % 2 == 0 else ("ssd", "svc")

    def log(self, msg):
        if not self.args.quiet:
            print(f"  {msg}", file=sys.stderr, flush=True)


@bench("start", "start of a trivial long-running program (sleep 1000) until the command returns")
def bench_start(c):
    c.svc.define("b-start", ["1000"])
    a, b = Series("svc start"), Series("ssd --start")
    ea, eb = Series("svc exec'd"), Series("ssd exec'd")
    for i in range(c.warmup + c.rounds):
        warm = i < c.warmup  # warm-up rounds: untimed, and where max RSS is taken
        for tool in c.order(i):
            if tool == "svc":
                res = c.svc.run("start", "b-start", rss=warm)
                wait_daemon(c.svc.pidfile("b-start"))
                exec_s = time.perf_counter() - res.started
                c.svc.run("stop", "b-start")
            else:
                res = c.r.run(c.ssd.start_argv("b-start", ["1000"]), rss=warm)
                wait_daemon(c.ssd.pidfile("b-start"))
                exec_s = time.perf_counter() - res.started
                c.r.run(c.ssd.stop_argv("b-start"))
            (a if tool == "svc" else b).add(res, timed=not warm)
            if not warm:
                (ea if tool == "svc" else eb).add_time(exec_s)
    c.report.row("start", a, b)
    c.report.row("start until the daemon runs", ea, eb,
                 "until the PID file names a process running sleep (informational)")
    ratio = a.median / b.median
    c.report.goal("start", "svc/ssd median ratio <= 1.0", f"{ratio:.3f}", ratio <= 1.0,
                  f"svc takes {(a.median - b.median) * 1000:.2f} ms more per start than "
                  "start-stop-daemon; its extra work (definition parsing, lock, identity record, "
                  "exec confirmation) must fit in what ssd spends on its double fork")


@bench("stop", "stop of a program that exits at once on SIGTERM, until the command returns")
def bench_stop(c):
    c.svc.define("b-stop", ["1000"])
    a, b, floor = Series("svc stop"), Series("ssd --stop --retry TERM/10"), Series("floor")
    leftovers = 0
    for i in range(c.warmup + c.rounds):
        warm = i < c.warmup  # warm-up rounds: untimed, and where max RSS is taken
        for tool in c.order(i) + ("floor",):
            if tool == "svc":
                c.svc.run("start", "b-stop")
                pid = wait_daemon(c.svc.pidfile("b-stop"))
                res = c.svc.run("stop", "b-stop", rss=warm)
            elif tool == "ssd":
                c.r.run(c.ssd.start_argv("b-stop", ["1000"]))
                pid = wait_daemon(c.ssd.pidfile("b-stop"))
                res = c.r.run(c.ssd.stop_argv("b-stop"), rss=warm)
            else:
                # The physical limit: the harness kills its own child and waits for it.
                p = subprocess.Popen([SLEEP, "1000"], stdin=subprocess.DEVNULL)
                wait_until(lambda: proc_exe(p.pid) == SLEEP, "sleep to exec")
                t0 = time.perf_counter()
                p.send_signal(signal.SIGTERM)
                p.wait()
                if not warm:
                    floor.add_time(time.perf_counter() - t0)
                continue
            if proc_alive(pid):
                leftovers += 1
                c.log(f"{tool} stop returned while pid {pid} was still running")
            (a if tool == "svc" else b).add(res, timed=not warm)
    c.report.row("stop", a, b)
    c.report.row("stop floor (kill+wait)", floor, None, "the program's own exit time")
    speedup = b.median / a.median
    c.report.goal("stop", "svc at least 5x faster than ssd --retry (ssd/svc median)",
                  f"{speedup:.1f}x (floor {floor.median * 1000:.2f} ms)", speedup >= 5.0,
                  f"svc stop must return within {b.median / 5 * 1000:.2f} ms: it has to wake on the "
                  "exit itself (pidfd) instead of sleeping between checks")
    if leftovers:
        c.report.notes.append(f"stop: {leftovers} stop(s) returned before the daemon had exited")


@bench("status", "status of one running service")
def bench_status(c):
    c.svc.define("b-status", ["1000"])
    c.svc.run("start", "b-status")
    wait_daemon(c.svc.pidfile("b-status"))
    c.r.run(c.ssd.start_argv("b-status", ["1000"]))
    wait_daemon(c.ssd.pidfile("b-status"))
    a, b = Series("svc status"), Series("ssd --status")
    try:
        for i in range(c.warmup + c.rounds):
            warm = i < c.warmup  # warm-up rounds: untimed, and where max RSS is taken
            for tool in c.order(i):
                if tool == "svc":
                    res = c.svc.run("status", "b-status", rss=warm)
                    if "running" not in res.stdout:
                        raise BenchError(f"svc status does not say running:\n{res.describe()}")
                else:
                    res = c.r.run(c.ssd.status_argv(c.ssd.pidfile("b-status")), rss=warm)
                (a if tool == "svc" else b).add(res, timed=not warm)
    finally:
        c.svc.run("stop", "b-status", expect=None)
        c.r.run(c.ssd.stop_argv("b-status"), expect=None)
    c.report.row("status (1 service)", a, b)


@bench("status200", "svc status of 200 defined, running services (table and --json)")
def bench_status200(c):
    n = 200
    names = [f"s{i:03d}" for i in range(n)]
    for i, name in enumerate(names):
        c.svc.define(name, [str(1000 + i)])  # distinct command lines: sleep 1000 .. sleep 1199
    t_start = c.svc.run("start", *names, rss=True)
    try:
        for name in names:
            wait_daemon(c.svc.pidfile(name))
        res = c.svc.run("status", "--json")
        try:
            data = json.loads(res.stdout)
        except ValueError as e:
            raise BenchError(f"svc status --json is not JSON ({e}):\n{res.describe()}")
        states = {}
        for o in data:
            if o.get("name") in names:
                states[o["name"]] = o.get("state")
        running = sum(1 for s in states.values() if s == "running")
        if running != n:
            raise BenchError(f"svc status --json shows {running} of {n} services running")
        table = c.svc.run("status")
        rows = [ln for ln in table.stdout.splitlines() if ln.split()[:1] and ln.split()[0] in names]
        if len(rows) != n:
            raise BenchError(f"svc status table lists {len(rows)} of {n} services:\n"
                             f"{table.describe()}")

        # start-stop-daemon has no "all services" view: the equivalent is one --status per
        # PID file, here a sh loop over the same 200 daemons (svc's own PID files).
        loop = os.path.join(c.tmp, "ssd-status-200.sh")
        with open(loop, "w") as f:
            f.write("rc=0\n")
            for name in names:
                argv = c.ssd.status_argv(c.svc.pidfile(name))
                f.write(" ".join(argv) + " || rc=1\n")
            f.write("exit $rc\n")
        a, j, b = Series("svc status"), Series("svc status --json"), Series("ssd loop")
        for i in range(c.warmup + c.rounds):
            warm = i < c.warmup  # warm-up rounds: untimed, and where max RSS is taken
            for tool in c.order(i) + ("json",):
                if tool == "svc":
                    res = c.svc.run("status", rss=warm)
                elif tool == "json":
                    res = c.svc.run("status", "--json", rss=warm)
                else:
                    res = c.r.run(["/bin/sh", loop])  # RSS of a loop of 200 means little
                {"svc": a, "json": j, "ssd": b}[tool].add(res, timed=not warm)
    finally:
        t_stop = c.svc.run("stop", *names, expect=None, rss=True)
    c.report.row("status, 200 services (table)", a, b, "ssd: a sh loop of 200 --status")
    c.report.row("status, 200 services (--json)", j, b)
    one_start, one_stop = Series("start 200"), Series("stop 200")
    one_start.add(t_start)  # timed under GNU time (it adds ~1 ms), for max RSS
    one_stop.add(t_stop)
    c.report.row("start 200 (one command, 1 run)", one_start)
    c.report.row("stop 200 (one command, 1 run)", one_stop)
    worst = max(a.median, j.median)
    c.report.goal("status200", "svc status of 200 services < 50 ms (median, table and --json)",
                  f"table {a.median * 1000:.2f} ms, --json {j.median * 1000:.2f} ms", worst < 0.050,
                  "per-service cost is too high: read each PID file, state record and "
                  "/proc/PID/stat once, no process spawned and no sleep per service")


# ---------------------------------------------------------------------------------------------
# runlevel switch of 200 services: svc switch versus a sequential rc loop of start-stop-daemon

BIG_N = 200                      # services
BIG_LEVELS = 10                  # priority numbers, 20 services each
READY_S = 0.1                    # how long a boot200ready service takes to become ready
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What Debian's /etc/init.d/rc does for a runlevel, with the init scripts inlined: every S
# entry of rcN.d in sorted order (the glob sorts; LC_ALL=C makes it bytewise), one at a time,
# each waiting for the previous to return. The arguments of each service come from a small
# table (one file per service) instead of its YAML definition.
#   $1 rcN.d  $2 table dir (NAME holds the args)  $3 PID file dir  $4 "" or a readiness dir
RC_START = r"""LC_ALL=C; export LC_ALL
rc=0
for link in "$1"/S*; do
    [ -e "$link" ] || continue
    name=${link##*/}; name=${name#S[0-9][0-9]}
    read -r args < "$2/$name"
    if [ -z "$4" ]; then
        SSD --start --background --make-pidfile --pidfile "$3/$name.pid" \
            --exec SLEEP -- $args || rc=1
    else
        # The daemon becomes ready 100 ms after it starts; its init script waits for that
        # (a tight poll: the best a shell script can do without inotifywait).
        SSD --start --background --make-pidfile --pidfile "$3/$name.pid" \
            --exec /bin/sh -- -c "sleep READY_S; touch $4/$name; exec SLEEP $args" || rc=1
        while [ ! -e "$4/$name" ]; do :; done
    fi
done
exit $rc
"""

# The same for runlevel 0: every K entry in sorted order, each init script's stop waiting for
# the daemon to exit (--retry TERM/10, as Debian's init scripts do).
RC_STOP = r"""LC_ALL=C; export LC_ALL
rc=0
for link in "$1"/K*; do
    [ -e "$link" ] || continue
    name=${link##*/}; name=${name#K[0-9][0-9]}
    SSD --stop --retry TERM/10 --remove-pidfile --pidfile "$3/$name.pid" --exec SLEEP || rc=1
done
exit $rc
"""


class Big:
    """The 200 services of one benchmark: their svc definitions, rc3.d S and rc0.d K entries
    (S05..S95, 20 each; K95..K05 in reverse), the table and directories of the ssd rc loop."""

    def __init__(self, c, prefix, base_arg, ready):
        self.c, self.ready = c, ready
        self.names = [f"{prefix}{i:03d}" for i in range(BIG_N)]
        self.level = {n: i * BIG_LEVELS // BIG_N for i, n in enumerate(self.names)}
        self.args = {n: str(base_arg + i) for i, n in enumerate(self.names)}
        root = os.path.join(c.ssd.dir, prefix)
        self.table = os.path.join(c.tmp, prefix + "-table")
        self.pids = os.path.join(root, "pid")             # ssd's PID files
        self.ready_ssd = os.path.join(root, "ready-ssd")  # readiness files
        self.ready_svc = os.path.join(root, "ready-svc")
        for d in (self.table, self.pids, self.ready_ssd, self.ready_svc):
            os.makedirs(d)
        for n in self.names:
            with open(os.path.join(self.table, n), "w") as f:
                f.write(self.args[n] + "\n")
            if ready:
                rf = os.path.join(self.ready_svc, n)
                body = (f"exec: /bin/sh\n"
                        f"args: {json.dumps(['-c', f'sleep {READY_S}; touch {rf}; exec {SLEEP} {self.args[n]}'])}\n"
                        f"ready: {{file: {json.dumps(rf)}}}\nready_timeout: 10\nstop_timeout: 10\n")
            else:
                body = f"exec: {SLEEP}\nargs: {json.dumps([self.args[n]])}\nstop_timeout: 10\n"
            c.svc.define_yaml(n, body)
        self.start_sh = os.path.join(c.tmp, prefix + "-rc-start.sh")
        self.stop_sh = os.path.join(c.tmp, prefix + "-rc-stop.sh")
        for path, text in ((self.start_sh, RC_START), (self.stop_sh, RC_STOP)):
            with open(path, "w") as f:
                f.write(text.replace("SSD", SSD).replace("SLEEP", SLEEP)
                        .replace("READY_S", str(READY_S)))
        self.rc3 = os.path.join(c.svc.conf, "runlevels", "rc3.d")
        self.rc0 = os.path.join(c.svc.conf, "runlevels", "rc0.d")
        self.link()

    def link(self):
        """Makes rc3.d and rc0.d hold exactly this benchmark's entries."""
        for d in (self.rc3, self.rc0):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        for n in self.names:
            s = 5 + 10 * self.level[n]
            os.symlink(f"../../init.d/{n}.yaml", os.path.join(self.rc3, f"S{s:02d}{n}"))
            os.symlink(f"../../init.d/{n}.yaml", os.path.join(self.rc0, f"K{100 - s:02d}{n}"))

    # --- svc

    def svc_switch(self, level, *opts, rss=False, timeout=CMD_TIMEOUT):
        return self.c.r.run(self.c.svc.argv("switch", *opts, level), rss=rss, timeout=timeout)

    def svc_pidfiles(self):
        return [self.c.svc.pidfile(n) for n in self.names]

    # --- the sequential ssd loop

    def ssd_boot(self, timeout=CMD_TIMEOUT):
        return self.c.r.run(["/bin/sh", self.start_sh, self.rc3, self.table, self.pids,
                             self.ready_ssd if self.ready else ""], timeout=timeout)

    def ssd_halt(self):
        return self.c.r.run(["/bin/sh", self.stop_sh, self.rc0, self.table, self.pids])

    def ssd_pidfiles(self):
        return [os.path.join(self.pids, n + ".pid") for n in self.names]

    def clear_ready(self):
        for d in (self.ready_ssd, self.ready_svc):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))

    def ssd_kill(self):
        """Untimed teardown of the ssd daemons: SIGTERM to each, wait until all are gone."""
        kill_pidfiles(self.ssd_pidfiles())


def all_running(pidfiles, exe=SLEEP, timeout=10.0):
    """Waits until every PID file names a live process (running exe, if given); returns the
    PIDs. Checks only those not yet seen running, so the cost of a sweep falls as they come up."""
    pending, pids = list(pidfiles), {}

    def sweep():
        for p in list(pending):
            pid = read_pid(p)
            if pid and proc_alive(pid) and (exe is None or proc_exe(pid) == exe):
                pids[p] = pid
                pending.remove(p)
        return not pending
    try:
        wait_until(sweep, f"{len(pidfiles)} daemons to run", timeout)
    except BenchError:
        raise BenchError(f"{len(pending)} of {len(pidfiles)} daemons not running, e.g. "
                         f"{', '.join(pending[:5])}")
    return [pids[p] for p in pidfiles]


def kill_pidfiles(pidfiles):
    pids = []
    for p in pidfiles:
        pid = read_pid(p)
        if pid and proc_alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
            except ProcessLookupError:
                pass
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    wait_until(lambda: not any(proc_alive(p) for p in pids), "killed daemons to exit")


def none_alive(pids, what):
    alive = [p for p in pids if proc_alive(p)]
    if alive:
        raise BenchError(f"{what}: {len(alive)} of {len(pids)} daemons still running after it "
                         f"returned, e.g. PIDs {alive[:5]}")


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def big_rounds(c):
    return c.args.big_rounds if c.args.big_rounds else min(5, c.rounds)


def svc_teardown(c, big):
    """Untimed: stops what runs of the benchmark's services (svc switch 0), checks it did."""
    big.svc_switch("0")
    for p in big.svc_pidfiles():
        pid = read_pid(p)
        if pid and proc_alive(pid):
            raise BenchError(f"svc switch 0 left {p} running (PID {pid})")


@bench("boot200", "svc switch 3 of 200 instant services (10 priority numbers) vs a sequential "
                  "start-stop-daemon rc loop")
def bench_boot200(c):
    big = Big(c, "b200-", 10000, ready=False)
    rounds = big_rounds(c)
    a, b = Series("svc switch 3"), Series("ssd rc loop")
    ea, eb = Series("svc all run"), Series("ssd all run")
    try:
        for i in range(1 + rounds):
            warm = i == 0  # one warm-up round: untimed, where max RSS is taken
            for tool in c.order(i):
                if tool == "svc":
                    res = big.svc_switch("3", rss=warm)
                    all_running(big.svc_pidfiles())
                    done = time.perf_counter() - res.started
                    svc_teardown(c, big)
                else:
                    res = big.ssd_boot()
                    all_running(big.ssd_pidfiles())
                    done = time.perf_counter() - res.started
                    big.ssd_kill()
                (a if tool == "svc" else b).add(res, timed=not warm)
                if not warm:
                    (ea if tool == "svc" else eb).add_time(done)
    finally:
        c.svc.run("stop", *big.names, expect=None)
        big.ssd_kill()
    c.report.row("boot200: switch 3, 200 instant", a, b,
                 f"ssd: sequential sh loop over rc3.d; {plural(rounds, 'round')}")
    c.report.row("boot200: until all 200 run", ea, eb, "until every PID file names a running "
                 "sleep (informational)")
    speedup = b.median / a.median
    c.report.goal("boot200", "svc switch 3 at least 5x faster than the sequential loop "
                  "(loop/svc median)", f"{speedup:.1f}x ({a.median * 1000:.1f} ms against "
                  f"{b.median * 1000:.1f} ms)", speedup >= 5.0,
                  f"svc would have to start 200 services in {b.median / 5 * 1000:.1f} ms, "
                  f"{b.median / 5 / BIG_N * 1e6:.0f} us each; with nothing to wait for, the "
                  "parallelism of --jobs only overlaps svc's own per-service work (fork, "
                  "identity record, PID file, exec confirmation) on the machine's "
                  f"{len(os.sched_getaffinity(0))} CPUs, against {b.median / BIG_N * 1000:.1f} ms per "
                  "step of the loop")


def start_times(pids):
    """Each PID's start time in seconds of CLOCK_BOOTTIME (clock-tick resolution)."""
    out = []
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        out.append(int(stat[stat.rindex(")") + 2:].split()[19]) / CLK_TCK)
    return out


def check_level_order(big, pids):
    """Checks that svc started no service of a priority number before every service of the
    lower numbers was ready: each process's start time against the readiness files' mtimes."""
    offset = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    started = dict(zip(big.names, start_times(pids)))
    ready = {n: os.stat(os.path.join(big.ready_svc, n)).st_mtime_ns / 1e9 - offset
             for n in big.names}
    slack = 1.0 / CLK_TCK + 0.002  # start times are truncated to clock ticks
    spans = []
    for lv in range(BIG_LEVELS):
        names = [n for n in big.names if big.level[n] == lv]
        first_start = min(started[n] for n in names)
        last_ready = max(ready[n] for n in names)
        spans.append((first_start, last_ready))
        if lv and first_start < spans[lv - 1][1] - slack:
            early = min(names, key=lambda n: started[n])
            prev = [n for n in big.names if big.level[n] == lv - 1]
            late = max(prev, key=lambda n: ready[n])
            raise BenchError(
                f"svc switch 3 started {early} (S{5 + 10 * lv:02d}) "
                f"{(spans[lv - 1][1] - first_start) * 1000:.0f} ms before {late} "
                f"(S{5 + 10 * (lv - 1):02d}) was ready")
    return spans


@bench("boot200ready", "svc switch 3 of 200 services that take 100 ms to become ready, vs the "
                       "critical path and a sequential start-stop-daemon rc loop")
def bench_boot200ready(c):
    big = Big(c, "r200-", 20000, ready=True)
    rounds = big_rounds(c)
    width = BIG_N // BIG_LEVELS
    a, w, b = Series("svc switch 3"), Series(f"svc switch --jobs {width} 3"), Series("ssd loop")
    level_ms = {}  # variant -> per round, each level's time from its first start to its last ready
    try:
        for i in range(rounds):
            for variant in ("default", "wide") if i % 2 == 0 else ("wide", "default"):
                big.clear_ready()
                opts = () if variant == "default" else ("--jobs", str(width))
                res = big.svc_switch("3", *opts)
                pids = all_running(big.svc_pidfiles(), exe=None)
                spans = check_level_order(big, pids)
                level_ms.setdefault(variant, []).append([(e - s) * 1000 for s, e in spans])
                svc_teardown(c, big)
                (a if variant == "default" else w).add(res)
        # The sequential loop takes 200 x ~100 ms: one run.
        big.clear_ready()
        res = big.ssd_boot(timeout=120)
        all_running(big.ssd_pidfiles(), exe=None)
        b.add(res)
        big.ssd_kill()
    finally:
        c.svc.run("stop", *big.names, expect=None)
        big.ssd_kill()
    crit = BIG_LEVELS * READY_S
    per_level = {v: statistics.median(statistics.mean(r) for r in rs) for v, rs in level_ms.items()}
    c.report.row("boot200ready: switch 3, 100 ms ready", a, b,
                 f"{plural(rounds, 'round')}; ssd: sequential loop, 1 run (rounds=1)")
    c.report.row(f"boot200ready: switch --jobs {width} 3", w, None,
                 f"jobs = services per priority number (informational); {plural(rounds, 'round')}")
    ratio = a.median / crit
    wratio = w.median / crit
    c.report.goal("boot200ready", f"svc switch 3 within 1.5x the critical path "
                  f"({BIG_LEVELS} levels x {READY_S * 1000:.0f} ms = {crit * 1000:.0f} ms)",
                  f"{a.median * 1000:.0f} ms = {ratio:.2f}x (--jobs {width}: "
                  f"{w.median * 1000:.0f} ms = {wratio:.2f}x; sequential loop "
                  f"{b.median:.1f} s, 1 run)", ratio <= 1.5,
                  f"the default --jobs is {4 * len(os.sched_getaffinity(0))} (4 per CPU) and a "
                  f"priority number has {width} services, so each level takes "
                  f"{math.ceil(width / (4 * len(os.sched_getaffinity(0))))} waves of ~100 ms "
                  f"(measured: {per_level['default']:.0f} ms per level, first start to last "
                  "ready); "
                  "waiting for readiness costs no CPU, so it would need jobs >= the widest level "
                  "for waits (or not count a waiting service against --jobs)"
                  + (f"; even with --jobs {width} a level takes {w.median * 1000 / BIG_LEVELS:.0f} "
                     f"ms ({per_level['wide']:.0f} ms first start to last ready, the rest "
                     "noticing it): svc looks for a readiness file after 2, 6, 14, 30, 62, 112 ms "
                     "(backoff up to 50 ms steps), so a file that appears at ~103 ms is seen at "
                     "~112 ms"
                     if wratio > 1.1 else ""))


@bench("halt200", "svc switch 0 stopping 200 running services (K entries) vs a sequential "
                  "start-stop-daemon --stop --retry loop")
def bench_halt200(c):
    big = Big(c, "h200-", 30000, ready=False)
    rounds = big_rounds(c)
    a, b = Series("svc switch 0"), Series("ssd rc loop")
    try:
        for i in range(rounds):
            for tool in c.order(i):
                if tool == "svc":
                    big.svc_switch("3")  # untimed
                    pids = all_running(big.svc_pidfiles())
                    res = big.svc_switch("0")
                    none_alive(pids, "svc switch 0")
                else:
                    big.ssd_boot()  # untimed
                    pids = all_running(big.ssd_pidfiles())
                    res = big.ssd_halt()
                    none_alive(pids, "the ssd stop loop")
                (a if tool == "svc" else b).add(res)
    finally:
        c.svc.run("stop", *big.names, expect=None)
        big.ssd_kill()
    c.report.row("halt200: switch 0, 200 running", a, b,
                 f"ssd: sequential --stop --retry TERM/10 loop over rc0.d; {plural(rounds, 'round')}")
    speedup = b.median / a.median
    c.report.goal("halt200", "svc switch 0 at least 5x faster than the sequential loop "
                  "(loop/svc median)", f"{speedup:.1f}x ({a.median * 1000:.1f} ms against "
                  f"{b.median * 1000:.0f} ms)", speedup >= 5.0,
                  f"svc would have to stop 200 services in {b.median / 5 * 1000:.0f} ms")


# ---------------------------------------------------------------------------------------------
# main: the subreaper and the runner


def machine_info(svc_bin):
    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return [
        f"date:     {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine:  {platform.node()}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}",
        f"kernel:   {platform.system()} {platform.release()} {platform.machine()}",
        f"svc:      {svc_bin} ({out([svc_bin, '--version']) or '?'})",
        f"ssd:      {SSD} ({out([SSD, '--version']).splitlines()[0] if out([SSD, '--version']) else '?'})",
        f"daemon:   {SLEEP}; python {platform.python_version()}",
        f"load:     {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the start",
    ]


def fstype(path):
    """The file system type of path, from /proc/self/mounts (longest mount point prefix)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


def runtime_base(args):
    """Where the runtime state goes (svc --state-dir, ssd's PID files): a tmpfs like /run on
    a real system, unless --runtime-dir says otherwise."""
    if args.runtime_dir:
        return args.runtime_dir
    for d in (os.environ.get("XDG_RUNTIME_DIR"), "/run/user/%d" % os.getuid(), "/dev/shm", "/run"):
        if d and os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK) and fstype(d) == "tmpfs":
            return d
    return tempfile.gettempdir()


def run_benchmarks(args):
    os.umask(0o022)
    tmp = tempfile.mkdtemp(prefix="svc-bench-")
    os.chmod(tmp, 0o755)
    base = runtime_base(args)
    rtmp = tempfile.mkdtemp(prefix="svc-bench-run-", dir=base)
    os.chmod(rtmp, 0o755)
    runner = Runner(tmp)
    svc = Svc(args.svc, tmp, rtmp, runner)
    ssd = Ssd(rtmp, runner)
    report = Report()
    ctx = Ctx(args, svc, ssd, runner, report, tmp)
    names = args.only or list(BENCHMARKS)
    ok = True
    try:
        print("\n".join(machine_info(args.svc)))
        if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
            print("warning:  the machine is busy; timings will be noisy (run on a quiet machine)",
                  flush=True)
        print(f"state:    svc --state-dir and ssd PID files in {rtmp} ({fstype(rtmp)}); "
              f"config and logs in {tmp} ({fstype(tmp)})")
        print(f"rounds:   {args.rounds} (+{args.warmup} warm-up), medians and p90; the harness is a "
              f"child subreaper that reaps at once", flush=True)
        if any(n in ("boot200", "boot200ready", "halt200") for n in names):
            print(f"          boot200, boot200ready, halt200: {big_rounds(ctx)} rounds each "
                  f"(+1 warm-up for boot200), 200 daemons a round", flush=True)
        for name in names:
            fn, _ = BENCHMARKS[name]
            t0 = time.monotonic()
            ctx.log(f"running {name} ...")
            try:
                fn(ctx)
            except BenchError as e:
                ok = False
                print(f"\nERROR in benchmark {name}: {e}", file=sys.stderr, flush=True)
            ctx.log(f"{name} took {time.monotonic() - t0:.1f}s")
    finally:
        svc.cleanup()
        ssd.cleanup()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(rtmp, ignore_errors=True)
        else:
            print(f"kept {tmp} and {rtmp}", file=sys.stderr)
    report.print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "machine": machine_info(args.svc),
                "rounds": args.rounds,
                "rows": [{"benchmark": bn, "svc_median_s": a.median, "svc_p90_s": a.p90,
                          "svc_maxrss_kb": a.max_rss(),
                          "ssd_median_s": b.median if b else None, "ssd_p90_s": b.p90 if b else None,
                          "ssd_maxrss_kb": b.max_rss() if b else None, "note": note}
                         for bn, a, b, note in report.rows],
                "goals": [{"benchmark": bn, "goal": t, "measured": m, "pass": p}
                          for bn, t, m, p, _ in report.goals],
            }, f, indent=2)
    if not ok:
        return 2
    if args.strict and not all(g[3] for g in report.goals):
        return 1
    return 0


def children_of(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid:
            kids.append(int(d))
    return kids


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_orphans():
    """Kills every process still reparented to this subreaper (all of them were started by
    this benchmark, through the tools), then reaps them."""
    me = os.getpid()
    for _ in range(50):
        reap_all()
        kids = [k for k in children_of(me) if proc_alive(k)]
        if not kids:
            return
        for k in kids:
            print(f"cleanup: killing left-over process {k} ({proc_exe(k)})", file=sys.stderr)
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(
        description="svc benchmarks side by side with start-stop-daemon (see bench/RESULTS.md)")
    ap.add_argument("--svc", default=os.environ.get("SVC_BIN", "target/release/svc"),
                    help="the svc binary (default: $SVC_BIN, else target/release/svc)")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only this benchmark (repeatable, or comma-separated); see --list")
    ap.add_argument("--rounds", type=int, default=30, help="measured rounds (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="unmeasured warm-up rounds (default 3)")
    ap.add_argument("--big-rounds", type=int, metavar="N",
                    help="measured rounds of the 200-service runlevel benchmarks (boot200, "
                         "boot200ready, halt200; default: 5, or --rounds if smaller)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a goal is missed")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--runtime-dir", metavar="DIR",
                    help="where svc's state and ssd's PID files go (default: a tmpfs, like /run: "
                         "$XDG_RUNTIME_DIR, /run/user/UID, /dev/shm or /run, else the temp dir)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args()

    if args.list:
        w = max(len(n) for n in BENCHMARKS)
        for name, (_, help) in BENCHMARKS.items():
            print(f"{name:<{w}}  {help}")
        return 0
    if args.only:
        args.only = [n for o in args.only for n in o.split(",") if n]
        bad = [n for n in args.only if n not in BENCHMARKS]
        if bad:
            ap.error(f"unknown benchmark(s) {', '.join(bad)}; known: {', '.join(BENCHMARKS)}")
    if args.rounds < 1 or args.warmup < 0:
        ap.error("--rounds must be >= 1 and --warmup >= 0")
    if args.big_rounds is not None and args.big_rounds < 1:
        ap.error("--big-rounds must be >= 1")
    if args.rounds < 30:
        print(f"note: {args.rounds} rounds; the published results use at least 30", file=sys.stderr)
    args.svc = os.path.abspath(args.svc)
    if not os.access(args.svc, os.X_OK):
        ap.error(f"svc binary {args.svc} not found or not executable (build it, or pass --svc)")
    if not os.access(SSD, os.X_OK):
        ap.error("start-stop-daemon not found (it is in Debian's dpkg package)")

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        print(f"cannot become a child subreaper: {os.strerror(e)}", file=sys.stderr)
        return 2

    sys.stdout.flush()
    sys.stderr.flush()
    runner = os.fork()
    if runner == 0:
        # The runner: Ctrl-C and SIGTERM/SIGHUP raise KeyboardInterrupt, so cleanup runs.
        def interrupt(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGHUP, interrupt)
        code = 1
        try:
            code = run_benchmarks(args)
        except KeyboardInterrupt:
            print("\ninterrupted; cleaned up", file=sys.stderr)
            code = 130
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    # The subreaper: reap everything at once until the runner is done. Ctrl-C reaches the
    # runner too (same process group); here it is ignored so that cleanup can finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def forward(signum, frame):
        try:
            os.kill(runner, signal.SIGTERM)
        except ProcessLookupError:
            pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    code = 1
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == runner:
            code = os.waitstatus_to_exitcode(status)
            if code < 0:
                code = 128 - code
            break
    kill_orphans()
    return code


if __name__ == "__main__":
    sys.exit(main())
