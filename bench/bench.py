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
boot200ready, halt200, which start 200 daemons a round). `inetd` compares svc inetd with
Debian's xinetd (skipped without /usr/sbin/xinetd; as root it temporarily replaces
/etc/hosts.allow and /etc/hosts.deny for xinetd's libwrap and restores them). `supervise`
compares svc's respawn supervisor with runit (runsv) and supervisord: restart latency after a
kill -9, and the idle memory of the supervising processes (each tool measured only if installed).
`contain200` (root, cgroup2) measures what containment (SPEC 8.7) costs: the same svc commands
with and without cgroups, the latter in a private mount namespace whose /sys/fs/cgroup is an
empty tmpfs, and checks in /proc/PID/cgroup that each side really is what it claims.
`sysv200` (root) boots a private tree of 200 generated LSB scripts with a dependency web
(bench/sysv_tree.py, seed 200): `svc --sysv-dir DIR switch 2` against sysv-rc's own rc 2 run
with insserv's makefiles (startpar -M, Debian's concurrent boot) and with CONCURRENCY=none (the
sequential loop), each in a private mount namespace whose /etc/init.d and /etc/rc2.d are the
tree's, checking after every run that each script started once and in the makefile's order;
and the ordering of the same tree, `svc check` against `insserv -n`.
"""

import argparse
import ctypes
import datetime
import hashlib
import json
import math
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types

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
        self.tables = []   # (title, [lines]): benchmarks whose figures are not command times

    def table(self, title, lines):
        self.tables.append((title, lines))

    def row(self, bench, svc, other=None, note=""):
        self.rows.append((bench, svc, other, note))

    def goal(self, bench, text, measured, passed, miss_note=""):
        self.goals.append((bench, text, measured, passed, miss_note))

    def print(self, out=sys.stdout):
        if self.rows:
            self.print_rows(out)
        for title, lines in self.tables:
            print(f"\n{title}", file=out)
            for line in lines:
                print(line.rstrip(), file=out)
        self.print_goals(out)

    def print_rows(self, out):
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

    def print_goals(self, out):
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
    ratio = a.median / b.median
    c.report.goal("status", "svc/ssd median ratio <= 1.0 (issue 16)", f"{ratio:.3f}", ratio <= 1.0,
                  f"svc takes {(a.median - b.median) * 1000:.2f} ms more than "
                  "start-stop-daemon --status, which reads the PID file and one /proc entry; svc "
                  "also parses the definition, checks the identity record (boot id, start time, "
                  "pidfd) and reports memory, processes and the log; most of the difference is "
                  "process start-up: `svc --version` alone is timed in the notes")
    ver = Series("svc --version")
    for i in range(c.warmup + c.rounds):
        res = c.r.run([c.svc.bin, "--version"])
        ver.add(res, timed=i >= c.warmup)
    c.report.row("status: svc --version (start-up alone)", ver, None,
                 "the binary's start-up, clap's parse and exit, nothing read (informational)")


@bench("status200", "svc status of 200 defined, running services (table and --json)")
def bench_status200(c):
    n = 200
    names = [f"s{i:03d}" for i in range(n)]
    for i, name in enumerate(names):
        c.svc.define(name, [str(1000 + i)])  # distinct command lines: sleep 1000 .. sleep 1199
    t_start = c.svc.run("start", *names, rss=True)
    try:
        pids = [wait_daemon(c.svc.pidfile(name)) for name in names]
        # The goal is for services under containment (SPEC 8.7): as root with a cgroup2
        # hierarchy every daemon must be in its own cgroup, svc/ID/NAME.
        hier = cgroup2_hierarchy()
        if hier is not None:
            rel = "/svc/" + cgroup_id(c.svc.state)
            check_cgroups(pids, names, lambda n: f"{rel}/{n}")
            contained = f"containment on: {n} of {n} daemons in their cgroups under {hier}"
        else:
            contained = "containment off (needs root and a cgroup2 hierarchy)"
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
        tasks = sum(1 for o in data if o.get("name") in names and "tasks" in o)
        contained += f"; --json `tasks` shown for {tasks} of {n}"
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
        # runit's view of all services: one `sv status` of 200 service directories, each
        # supervised by its runsv (it reads the status file runsv keeps), same 200 sleeps.
        runit = status200_runit(c, n)
        a, j, b = Series("svc status"), Series("svc status --json"), Series("ssd loop")
        rs = Series("sv status")
        tools = ("json",) + (("runit",) if runit is not None else ())
        for i in range(c.warmup + c.rounds):
            warm = i < c.warmup  # warm-up rounds: untimed, and where max RSS is taken
            for tool in c.order(i) + (tools if i % 2 == 0 else tools[::-1]):
                if tool == "svc":
                    res = c.svc.run("status", rss=warm)
                elif tool == "json":
                    res = c.svc.run("status", "--json", rss=warm)
                elif tool == "runit":
                    res = c.r.run(runit.argv, rss=warm)
                else:
                    res = c.r.run(["/bin/sh", loop])  # RSS of a loop of 200 means little
                {"svc": a, "json": j, "ssd": b, "runit": rs}[tool].add(res, timed=not warm)
    finally:
        t_stop = c.svc.run("stop", *names, expect=None, rss=True)
        if runit is not None:
            runit.stop()
    c.report.row("status, 200 services (table)", a, b, "ssd: a sh loop of 200 --status")
    c.report.row("status, 200 services (--json)", j, b)
    if runit is not None:
        c.report.row("status, 200 services: runit sv status", rs, None,
                     "one `sv status` of 200 runsv service directories")
        c.report.row("status, 200 services (table) vs sv status", a, rs, "ratio: svc/sv")
        c.report.row("status, 200 services (--json) vs sv status", j, rs, "ratio: svc/sv")
        worst = max(a.median, j.median)
        c.report.goal("status200", "svc status of 200 services <= runit's sv status of 200 "
                      "(median, table and --json)",
                      f"table {a.median / rs.median:.2f}x, --json {j.median / rs.median:.2f}x "
                      f"({a.median * 1000:.2f} / {j.median * 1000:.2f} against "
                      f"{rs.median * 1000:.2f} ms)", worst <= rs.median,
                      "sv reads the one status file runsv keeps up to date; svc keeps no "
                      "process watching each service, so it verifies every service's identity "
                      "from /proc on each call (PID file, identity record, pidfd, /proc/PID/stat; "
                      "docs/security.md), and reads each definition (bench/RESULTS.md, issue 16)")
    else:
        c.report.notes.append("status200: runit is not installed (apt-get install runit): no "
                              "sv status comparison")
    one_start, one_stop = Series("start 200"), Series("stop 200")
    one_start.add(t_start)  # timed under GNU time (it adds ~1 ms), for max RSS
    one_stop.add(t_stop)
    c.report.row("start 200 (one command, 1 run)", one_start)
    c.report.row("stop 200 (one command, 1 run)", one_stop)
    worst = max(a.median, j.median)
    c.report.goal("status200", "svc status of 200 services < 30 ms (median, table and --json)",
                  f"table {a.median * 1000:.2f} ms, --json {j.median * 1000:.2f} ms ({contained})",
                  worst < 0.030,
                  "per-service cost is too high: read each PID file, state record, "
                  "/proc/PID/stat and the cgroup's cgroup.procs once, no process spawned and no "
                  "sleep per service (bench/RESULTS.md, Containment, says what --json reads)")


class Status200Runit:
    """n sleeps under runsvdir for status200 (the same sleeps as svc's: 1000 .. 1199), and the
    `sv status` command of all of them; `stop` ends them all."""

    def __init__(self, c, n):
        base = os.path.join(os.path.dirname(c.svc.state), "status200-runit")
        scripts = os.path.join(c.tmp, "status200-run")
        os.makedirs(scripts)
        names = [f"r{i:03d}" for i in range(n)]
        progs = {}
        for i, name in enumerate(names):
            progs[name] = os.path.join(scripts, name)
            with open(progs[name], "w") as f:
                f.write(f"#!/bin/sh\nexec {SLEEP} {1000 + i}\n")
            os.chmod(progs[name], 0o755)
        self.sup = RunitSupervised(c, base, names, progs)
        self.argv = [SV, "status", *[os.path.join(self.sup.dir, x) for x in names]]
        self.c, self.n = c, n

    def start(self):
        self.sup.start()

        def up():
            res = self.c.r.run(self.argv, expect=None)
            return res.stdout.count("run: ") == self.n
        wait_until(up, f"runit to run {self.n} services", timeout=30)
        self.sup.supervisors()  # checks: one runsv each, every one shown running

    def stop(self):
        self.sup.stop()


def status200_runit(c, n):
    """runit's side of status200, started; None (noted) when runit is not installed."""
    if not all(os.access(p, os.X_OK) for p in (RUNSV, RUNSVDIR, SV)):
        return None
    r = Status200Runit(c, n)
    try:
        r.start()
    except BaseException:
        r.stop()
        raise
    return r


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

    def __init__(self, c, prefix, base_arg, ready, flat=False):
        self.c, self.ready, self.flat = c, ready, flat
        self.names = [f"{prefix}{i:03d}" for i in range(BIG_N)]
        # flat: every service at one priority number (S50/K50), nothing to order
        self.level = {n: 0 if flat else i * BIG_LEVELS // BIG_N for i, n in enumerate(self.names)}
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
            s = 50 if self.flat else 5 + 10 * self.level[n]
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


S6_SVSCAN = shutil.which("s6-svscan", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
STARTPAR = (shutil.which("startpar", path=os.environ.get("PATH", "") + ":/usr/bin:/sbin:/bin")
            or (os.path.exists("/sbin/startpar") and "/sbin/startpar") or None)
# Debian's /etc/init.d/rc runs startpar with these (4 scripts at once per CPU, 20 s per script).
STARTPAR_OPTS = ["-p", "4", "-t", "20", "-T", "3"]
FLAT_GOAL = 5.0


class FlatAnchors:
    """What boot200flat sets beside svc for the same 200 sleeps: an s6 scan directory (one
    service directory each, `run` writes its PID file and execs sleep) and one init script per
    service for startpar (start-stop-daemon --start --background, as an rc script does)."""

    def __init__(self, c, big):
        self.c, self.big = c, big
        root = os.path.join(c.ssd.dir, "flat-anchors")
        self.scan = os.path.join(root, "scan")
        self.s6_pids = os.path.join(root, "s6-pid")
        self.sp_pids = os.path.join(root, "sp-pid")
        self.scripts = os.path.join(root, "init.d")
        for d in (self.scan, self.s6_pids, self.sp_pids, self.scripts):
            os.makedirs(d)
        for n in big.names:
            sd = os.path.join(self.scan, n)
            os.makedirs(sd)
            self._script(os.path.join(sd, "run"),
                         f"#!/bin/sh\necho $$ > {self.s6_pids}/{n}.pid\n"
                         f"exec {SLEEP} {big.args[n]}\n")
            self._script(os.path.join(self.scripts, n),
                         f"#!/bin/sh\nexec {SSD} --start --background --make-pidfile "
                         f"--pidfile {self.sp_pids}/{n}.pid --exec {SLEEP} -- {big.args[n]}\n")

    @staticmethod
    def _script(path, text):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    def pidfiles(self, d):
        return [os.path.join(d, n + ".pid") for n in self.big.names]

    def s6_boot(self):
        """s6-svscan on the scan directory, timed from its spawn until every run script has
        exec'd sleep (s6-svscan itself never returns); then stopped, untimed."""
        t0 = time.perf_counter()
        p = subprocess.Popen([S6_SVSCAN, self.scan], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            all_running(self.pidfiles(self.s6_pids))
            return time.perf_counter() - t0
        finally:
            self.s6_stop(p)

    def s6_stop(self, p):
        # SIGTERM: s6-svscan tells every s6-supervise to bring its service down and exit.
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        try:
            os.killpg(p.pid, signal.SIGKILL)  # any s6-supervise left in its session
        except ProcessLookupError:
            pass
        kill_pidfiles(self.pidfiles(self.s6_pids))

    def startpar_boot(self):
        """startpar with Debian rc's options running the 200 scripts with `start`; returns the
        run (timed until startpar returns)."""
        scripts = [os.path.join(self.scripts, n) for n in self.big.names]
        return self.c.r.run([STARTPAR, *STARTPAR_OPTS, "-a", "start", *scripts])

    def startpar_kill(self):
        kill_pidfiles(self.pidfiles(self.sp_pids))


def spawn_floor(big):
    """The physical floor of starting 200 daemons on this machine: one /bin/sh forks and execs
    the 200 sleeps in the background and exits, no bookkeeping at all; timed until all run.
    Returns (seconds, pids) and leaves them running for the caller to kill."""
    d = tempfile.mkdtemp(prefix="floor-", dir=big.c.ssd.dir)
    # A file, not `sh -c`: 10,000 lines are past the kernel's limit on one argument.
    script = os.path.join(d, "spawn.sh")
    with open(script, "w") as f:
        f.write("".join(f"{SLEEP} {big.args[n]} & echo $! > {d}/{n}.pid\n" for n in big.names))
    t0 = time.perf_counter()
    subprocess.run(["/bin/sh", script], check=True, stdin=subprocess.DEVNULL)
    files = [os.path.join(d, n + ".pid") for n in big.names]
    all_running(files, timeout=max(10.0, len(files) / 100))
    return time.perf_counter() - t0, files


def kill_floor(big):
    """The physical floor of stopping 200 daemons: 200 sleeps (started untimed by one sh), then
    timed: SIGTERM to each through a pidfd and a poll until every pidfd says it exited."""
    _, files = spawn_floor(big)
    fds = []
    try:
        for f in files:
            fds.append(os.pidfd_open(read_pid(f)))
        t0 = time.perf_counter()
        for fd in fds:
            signal.pidfd_send_signal(fd, signal.SIGTERM)
        p = select.poll()
        for fd in fds:
            p.register(fd, select.POLLIN)
        left = len(fds)
        while left:
            for fd, _ in p.poll(CMD_TIMEOUT * 1000):
                p.unregister(fd)
                left -= 1
        return time.perf_counter() - t0
    finally:
        for fd in fds:
            os.close(fd)
        kill_pidfiles(files)


def ordered_kill_floor(big):
    """The floor of what `svc switch 0` of `big` must do by the SPEC: the 200 sleeps stopped in
    their K order, one priority number after the other (§4: SIGTERM to each service of the
    number through a pidfd, a poll until all of them exited), and when svc contains services
    (root and a cgroup2 hierarchy, §8.7) each one in a cgroup of its own, removed once it is
    empty. Nothing else: no lock, no PID file, no identity check, no process-group check.
    Returns (seconds, whether the cgroups were part of it)."""
    _, files = spawn_floor(big)
    hier = cgroup2_hierarchy()
    base = os.path.join(hier, f"svc-bench-floor-{os.getpid()}") if hier else None
    fds, made = {}, []
    try:
        if base:
            os.mkdir(base)
        for n, f in zip(big.names, files):
            pid = read_pid(f)
            fds[n] = os.pidfd_open(pid)
            if base:
                cg = os.path.join(base, n)
                os.mkdir(cg)
                made.append(cg)
                with open(os.path.join(cg, "cgroup.procs"), "w") as fh:
                    fh.write(str(pid))
        waves = {}
        for n in big.names:
            waves.setdefault(big.level[n], []).append(n)
        t0 = time.perf_counter()
        for level in sorted(waves, reverse=True):  # K = 100 - S: the last started stops first
            wave = waves[level]
            for n in wave:
                signal.pidfd_send_signal(fds[n], signal.SIGTERM)
            p = select.poll()
            for n in wave:
                p.register(fds[n], select.POLLIN)
            left = len(wave)
            while left:
                for fd, _ in p.poll(CMD_TIMEOUT * 1000):
                    p.unregister(fd)
                    left -= 1
            if base:
                # Flush the statistics of the wave's cgroups in one pass first, as svc does
                # (src/process/cgroup.rs, flush_statistics): the kernel otherwise unlinks each
                # freed cgroup from a list of all its updated siblings, N^2 at 10,000.
                with open(os.path.join(base, "cpu.stat")) as fh:
                    fh.read()
                for n in wave:
                    os.rmdir(os.path.join(base, n))
        return time.perf_counter() - t0, bool(base)
    finally:
        for fd in fds.values():
            os.close(fd)
        kill_pidfiles(files)
        for cg in made + ([base] if base else []):
            deadline = time.monotonic() + 5
            while os.path.isdir(cg):
                try:
                    os.rmdir(cg)
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)


@bench("boot200flat", "svc switch 3 of 200 instant services all at ONE priority number vs a "
                      "sequential start-stop-daemon rc loop, s6-svscan and startpar")
def bench_boot200flat(c):
    big = Big(c, "f200-", 40000, ready=False, flat=True)
    anchors = FlatAnchors(c, big)
    rounds = big_rounds(c)
    a, b = Series("svc switch 3"), Series("ssd rc loop")
    ea, eb = Series("svc all run"), Series("ssd all run")
    s6, sp, esp, fl = (Series("s6-svscan all run"), Series("startpar"), Series("startpar all run"),
                       Series("sh & floor"))
    tools = ["svc", "ssd"] + (["s6"] if S6_SVSCAN else []) + (["startpar"] if STARTPAR else [])
    tools.append("floor")
    try:
        for i in range(1 + rounds):
            warm = i == 0
            order = tools[i % len(tools):] + tools[:i % len(tools)]
            for tool in order:
                if tool == "svc":
                    res = big.svc_switch("3", rss=warm)
                    all_running(big.svc_pidfiles())
                    done = time.perf_counter() - res.started
                    svc_teardown(c, big)
                    a.add(res, timed=not warm)
                    if not warm:
                        ea.add_time(done)
                elif tool == "ssd":
                    res = big.ssd_boot()
                    all_running(big.ssd_pidfiles())
                    done = time.perf_counter() - res.started
                    big.ssd_kill()
                    b.add(res, timed=not warm)
                    if not warm:
                        eb.add_time(done)
                elif tool == "s6":
                    t = anchors.s6_boot()
                    if not warm:
                        s6.add_time(t)
                elif tool == "startpar":
                    res = anchors.startpar_boot()
                    all_running(anchors.pidfiles(anchors.sp_pids))
                    done = time.perf_counter() - res.started
                    anchors.startpar_kill()
                    sp.add(res, timed=not warm)
                    if not warm:
                        esp.add_time(done)
                else:
                    t, files = spawn_floor(big)
                    kill_pidfiles(files)
                    if not warm:
                        fl.add_time(t)
    finally:
        c.svc.run("stop", *big.names, expect=None)
        big.ssd_kill()
        anchors.startpar_kill()
        kill_pidfiles(anchors.pidfiles(anchors.s6_pids))
    c.report.row("boot200flat: switch 3, 200 at S50", a, b,
                 f"ssd: sequential sh loop over rc3.d; {plural(rounds, 'round')}")
    c.report.row("boot200flat: until all 200 run", ea, eb, "until every PID file names a running "
                 "sleep")
    if S6_SVSCAN:
        c.report.row("boot200flat: s6-svscan until all 200 run", s6, None,
                     f"svc/s6 {ea.median / s6.median:.2f}; from the spawn of s6-svscan on a scan "
                     "directory of 200 services (run: sh writes its PID, execs sleep)")
    if STARTPAR:
        c.report.row("boot200flat: startpar", sp, None,
                     f"svc/startpar {a.median / sp.median:.2f}; startpar "
                     f"{' '.join(STARTPAR_OPTS)} -a start of 200 init scripts "
                     "(start-stop-daemon --start --background each), as Debian's rc runs it")
        c.report.row("boot200flat: startpar until all 200 run", esp, None, "(informational)")
    c.report.row("boot200flat: floor, sh forks 200 sleeps", fl, None,
                 f"until all run; svc/floor {ea.median / fl.median:.2f} (no bookkeeping at all: "
                 "what any runner pays to fork and exec 200 programs here)")
    speedup = b.median / a.median
    c.report.goal("boot200flat", "svc switch 3 of 200 at one priority number at least 5x faster "
                  "than the sequential loop (loop/svc median)",
                  f"{speedup:.1f}x ({a.median * 1000:.1f} ms against {b.median * 1000:.1f} ms)",
                  speedup >= FLAT_GOAL,
                  f"5x needs {b.median / FLAT_GOAL * 1000:.0f} ms; merely forking and exec'ing the "
                  f"200 sleeps from one shell takes {fl.median * 1000:.0f} ms on this machine "
                  f"({len(os.sched_getaffinity(0))} CPUs), so svc's own work per service "
                  "(definition, lock, identity record, PID file, exec confirmation) has "
                  f"{max(0.0, b.median / FLAT_GOAL - fl.median) / BIG_N * 1e6:.0f} us of wall time "
                  "left per service")


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
    floor = Series("kill floor")
    for _ in range(rounds):
        floor.add_time(kill_floor(big))
    c.report.row("halt200: floor, SIGTERM 200 and wait", floor, None,
                 f"svc/floor {a.median / floor.median:.2f}; the harness signals the 200 sleeps "
                 "itself and waits on their pidfds: no lookup, no check, no bookkeeping")
    ordered, contained = Series("ordered floor"), False
    for _ in range(rounds):
        t, contained = ordered_kill_floor(big)
        ordered.add_time(t)
    c.report.row("halt200: floor, K order" + (" and a cgroup each" if contained else ""),
                 ordered, None,
                 f"svc/floor {a.median / ordered.median:.2f}; the same sleeps stopped as the SPEC "
                 f"orders it: {BIG_LEVELS} numbers one after the other, each waited for"
                 + (", and each sleep's own cgroup removed once it exited (§8.7, svc runs as "
                    "root here)" if contained else "") + "; still no lock, no record, no check")
    per_stop = max(0.0, a.median - ordered.median) / BIG_N * len(os.sched_getaffinity(0))
    speedup = b.median / a.median
    c.report.goal("halt200", "svc switch 0 at least 5x faster than the sequential loop "
                  "(loop/svc median)", f"{speedup:.1f}x ({a.median * 1000:.1f} ms against "
                  f"{b.median * 1000:.0f} ms)", speedup >= 5.0,
                  f"svc would have to stop 200 services in {b.median / 5 * 1000:.0f} ms")
    c.report.goal("halt200", "svc switch 0 stops the 200 within 50 ms (issue 16)",
                  f"{a.median * 1000:.1f} ms", a.median <= 0.050,
                  f"signalling the 200 and waiting for their exits takes {floor.median * 1000:.0f}"
                  f" ms, {ordered.median * 1000:.0f} ms in K order"
                  + (" with a cgroup each" if contained else "") +
                  f" (the floor the SPEC leaves); the rest, ~{per_stop * 1e6:.0f} us of CPU per "
                  "service on "
                  f"{len(os.sched_getaffinity(0))} CPUs, is svc's own stop: the service's lock, "
                  "its PID file and identity record read, checked against a pidfd, then "
                  "removed, the process-group check; svc's own CPU time is 0.9-1.0 of its "
                  "wall time, the sleeps' exits and reaps run beside it, and preparing the "
                  "next number's stops while this one's run was tried and gained nothing")


# ---------------------------------------------------------------------------------------------
# containment (SPEC §8.7): what a cgroup per service costs start and switch, with and without

CGROUP2_CANDIDATES = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")  # svc's order (SPEC §8.7)
UNSHARE = shutil.which("unshare", path=os.environ.get("PATH", "") + ":/usr/bin") or "/usr/bin/unshare"
CONTAIN_LIMIT = 1.10  # the goal: with cgroups at most 10 % slower
CONTAIN_IDLE_S = 0.1  # quiet before the informational single start

# Runs "$@" in a private mount namespace after mounting an empty tmpfs on $1. Over
# /sys/fs/cgroup it hides every cgroup2 mount from svc, which then launches without
# containment (it detects the hierarchy at run time); over a scratch directory it changes
# nothing, so both sides are set up alike.
CONTAIN_WRAP = 'mount -t tmpfs none "$1" && shift && exec "$@"'


def cgroup2_hierarchy():
    """The cgroup2 hierarchy svc contains services in, as svc finds it (SPEC §8.7): as root,
    /sys/fs/cgroup if it is cgroup2, else /sys/fs/cgroup/unified; None without one."""
    if os.geteuid() != 0:
        return None
    mounts = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3:
                mounts[p[1].replace("\\040", " ")] = p[2]  # the last mount on a path wins
    for d in CGROUP2_CANDIDATES:
        if mounts.get(d) == "cgroup2" and os.access(d, os.W_OK):
            return d
    return None


def cgroup_id(state):
    """The ID svc gives a configuration in its cgroup path (svc/ID/NAME): the first 12 hex
    digits of the SHA-256 of the state directory's absolute path."""
    return hashlib.sha256(os.path.abspath(state).encode()).hexdigest()[:12]


def proc_cgroup(pid):
    """A process's cgroup v2 path (the `0::` line of /proc/PID/cgroup), None if it is gone."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


def cgroup_procs(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def check_cgroups(pids, names, want):
    """Checks each daemon's cgroup: want(name) is the path it must be in."""
    wrong = []
    for pid, name in zip(pids, names):
        got = proc_cgroup(pid)
        if got != want(name):
            wrong.append(f"{name} (PID {pid}) in {got}, not {want(name)}")
    if wrong:
        raise BenchError(f"{len(wrong)} of {len(pids)} daemons in the wrong cgroup, e.g. "
                         + "; ".join(wrong[:3]))


def contain_agent(tmp):
    """`bench.py --contain-agent DIR`, started by ContainSide inside its mount namespace: runs
    the commands it reads (one JSON line each) with a Runner, as the harness would, and
    answers each with a JSON line (exit code, seconds, output). So the timed svc commands of
    both sides run in their namespaces without paying the wrapper, and can alternate one by
    one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness stops it
    r = Runner(tmp)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            res = r.run(req["argv"], expect=None, timeout=req["timeout"])
            out = {"code": res.code, "seconds": res.seconds, "stdout": res.stdout,
                   "stderr": res.stderr}
        except BenchError as e:
            out = {"error": str(e)}
        print(json.dumps(out), flush=True)
    return 0


class ContainSide:
    """One side of contain200: svc on the shared configuration with its own state and log
    directories, its commands run and timed by an agent (contain_agent) inside a private mount
    namespace; `cgroups` False hides the cgroup2 hierarchy there."""

    def __init__(self, c, cgroups, hier):
        self.c, self.cgroups = c, cgroups
        self.tag = "with cgroups" if cgroups else "without cgroups"
        word = "with" if cgroups else "without"
        self.state = os.path.join(os.path.dirname(c.svc.state), f"contain-{word}")
        self.logs = os.path.join(c.tmp, f"contain-{word}-log")
        self.target = os.path.join(c.tmp, "contain-mnt") if cgroups else "/sys/fs/cgroup"
        os.makedirs(self.target, exist_ok=True)
        self.cg_root = os.path.join(hier, "svc", cgroup_id(self.state))
        self.cg_rel = "/svc/" + cgroup_id(self.state)
        self.harness_cgroup = proc_cgroup(os.getpid())
        agent_tmp = os.path.join(c.tmp, f"contain-{word}-agent")
        os.makedirs(agent_tmp)
        self.agent = subprocess.Popen(
            self.wrap([sys.executable, os.path.abspath(__file__), "--contain-agent", agent_tmp]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def close(self):
        if self.agent.poll() is None:
            self.agent.stdin.close()
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()

    def wrap(self, argv):
        return [UNSHARE, "--mount", "--propagation", "private", "/bin/sh", "-c", CONTAIN_WRAP,
                "sh", self.target, *argv]

    def svc_argv(self, *args):
        c = self.c
        return [c.svc.bin, "--config-dir", c.svc.conf, "--state-dir", self.state,
                "--log-dir", self.logs, "--no-color", *args]

    def run(self, *args, expect=(0,), timeout=CMD_TIMEOUT):
        """Runs svc ARGS through the agent: timed as Runner.run times a command."""
        argv = self.svc_argv(*args)
        try:
            self.agent.stdin.write(json.dumps({"argv": argv, "timeout": timeout}) + "\n")
            self.agent.stdin.flush()
            line = self.agent.stdout.readline()
        except OSError as e:
            raise BenchError(f"the agent {self.tag} is gone: {e}")
        if not line:
            raise BenchError(f"the agent {self.tag} exited ({self.agent.poll()})")
        d = json.loads(line)
        if "error" in d:
            raise BenchError(d["error"])
        r = Result(argv, d["code"], d["seconds"], None, d["stdout"], d["stderr"])
        if expect is not None and r.code not in expect:
            raise BenchError(f"{self.tag}: unexpected exit code (wanted {list(expect)}):\n"
                             f"{r.describe()}")
        return r

    def pidfiles(self, names):
        return [os.path.join(self.state, n + ".pid") for n in names]

    def check(self, pids, names):
        """Asserts that every daemon is where this side puts it: its service's own cgroup
        (svc/ID/NAME), or, without cgroups, the harness's own cgroup (no svc/ at all)."""
        if self.cgroups:
            check_cgroups(pids, names, lambda n: f"{self.cg_rel}/{n}")
        else:
            check_cgroups(pids, names, lambda n: self.harness_cgroup)
            if os.path.exists(self.cg_root):
                raise BenchError(f"svc made {self.cg_root} while the hierarchy was hidden")

    def sweep(self, pids):
        """Untimed, after a stop: kills any daemon still alive and any process left in this
        side's cgroups, removes the cgroups (svc stop should have left none); returns what it
        found (daemons, cgroups)."""
        alive = [p for p in pids if proc_alive(p)]
        for p in alive:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        cgroups = 0
        if os.path.isdir(self.cg_root):
            for d in sorted(os.listdir(self.cg_root)):
                path = os.path.join(self.cg_root, d)
                if not os.path.isdir(path):
                    continue
                cgroups += 1
                for p in cgroup_procs(path):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                wait_until(lambda: not cgroup_procs(path), f"{path} to empty")
                os.rmdir(path)
            cgroups += 1  # svc/ID itself: the stop of the last service removes it
            os.rmdir(self.cg_root)
        wait_until(lambda: not any(proc_alive(p) for p in alive), "left-over daemons to exit")
        return len(alive), cgroups

    def teardown(self, names):
        """Untimed, however the benchmark ended: svc stop of everything (through the wrapper,
        should the agent be gone), then the sweep."""
        pids = [p for p in map(read_pid, self.pidfiles(names)) if p]
        try:
            self.c.r.run(self.wrap(self.svc_argv("stop", *names)), expect=None, timeout=60)
        finally:
            self.close()
            self.sweep(pids)


@bench("contain200", "the cost of containment (a cgroup per service, SPEC 8.7): 200 svc start "
                     "one at a time, and svc switch 3/0 of 200, with and without cgroups (root)")
def bench_contain200(c):
    hier = cgroup2_hierarchy()
    if hier is None or not os.access(UNSHARE, os.X_OK):
        c.report.notes.append("contain200: skipped; needs root, unshare(1) and a writable "
                              f"cgroup2 hierarchy ({' or '.join(CGROUP2_CANDIDATES)})")
        return
    big = Big(c, "c200-", 50000, ready=False)
    rounds = c.args.big_rounds if c.args.big_rounds else min(10, c.rounds)
    sides = {}
    series = {(k, w): Series(f"{k} {w}")
              for k in ("start", "stop", "switch 3", "switch 0", "idle start")
              for w in (True, False)}
    found = [0, 0]  # daemons and cgroups a stop left behind

    def sweep(side, pids):
        for i, n in enumerate(side.sweep(pids)):
            found[i] += n

    try:
        for cg in (True, False):
            sides[cg] = ContainSide(c, cg, hier)
        for i in range(1 + rounds):
            warm = i == 0  # one warm-up round, untimed
            # (a) svc start NAME of the 200, one at a time, the two sides alternating service
            # by service (which goes first turns at each), then svc stop NAME the same way.
            for action in ("start", "stop"):
                total = {True: 0.0, False: 0.0}
                for k, name in enumerate(big.names):
                    for cg in ((True, False) if (i + k) % 2 == 0 else (False, True)):
                        total[cg] += sides[cg].run(action, name).seconds
                for cg, side in sides.items():
                    if action == "start":
                        pids = all_running(side.pidfiles(big.names))
                        side.check(pids, big.names)
                        side.pids = pids
                    else:
                        none_alive(side.pids, f"svc stop NAME, one at a time, {side.tag}")
                        sweep(side, side.pids)
                    if not warm:
                        series[(action, cg)].add_time(total[cg])
            # (b) svc switch 3, then svc switch 0; which side goes first turns every round.
            for cg in ((False, True) if i % 2 == 0 else (True, False)):
                side = sides[cg]
                res = side.run("switch", "3")
                pids = all_running(side.pidfiles(big.names))
                side.check(pids, big.names)
                if not warm:
                    series[("switch 3", cg)].add(res)
                res = side.run("switch", "0")
                none_alive(pids, f"svc switch 0 {side.tag}")
                if not warm:
                    series[("switch 0", cg)].add(res)
                sweep(side, pids)
            # (c) one svc start after CONTAIN_IDLE_S of quiet, as an administrator's start
            # is: the kernel's cost of moving a process into a cgroup depends on how long ago
            # the last move was (see docs/benchmarks.md). Informational.
            for cg in ((True, False) if i % 2 == 0 else (False, True)):
                side, name = sides[cg], big.names[0]
                time.sleep(CONTAIN_IDLE_S)
                res = side.run("start", name)
                pids = all_running(side.pidfiles([name]))
                side.check(pids, [name])
                side.run("stop", name)
                none_alive(pids, f"svc stop {name} {side.tag}")
                sweep(side, pids)
                if not warm:
                    series[("idle start", cg)].add(res)
    finally:
        for side in sides.values():
            side.teardown(big.names)
    rows = (("start", "start x200, one at a time", "sum of 200 svc start NAME"),
            ("stop", "stop x200, one at a time", "sum of 200 svc stop NAME (informational)"),
            ("switch 3", "switch 3, 200 instant", ""),
            ("switch 0", "switch 0, 200 running", ""),
            ("idle start", f"start x1 after {CONTAIN_IDLE_S * 1000:.0f} ms idle",
             "informational"))
    for kind, label, note in rows:
        c.report.row(f"contain200: {label}", series[(kind, True)], series[(kind, False)],
                     f"with / without cgroups; {plural(rounds, 'round')}"
                     + (f"; {note}" if note else ""))
    moving = ("measured (bench/RESULTS.md, Containment): mkdir and the controller files take "
              "tens of microseconds; the launched child's move into its cgroup (its write to "
              "cgroup.procs) waits for an RCU grace period (~7-20 ms) when no other move "
              "happened on the machine for about that long")
    ending = ("stop adds reading the cgroup's cgroup.procs and two rmdir per service "
              "(bench/RESULTS.md, Containment)")
    for kind, what, why in (("start", "200 x svc start NAME", moving),
                            ("switch 3", "svc switch 3 of 200", moving),
                            ("switch 0", "svc switch 0 of 200", ending)):
        w, wo = series[(kind, True)].median, series[(kind, False)].median
        ratio = w / wo
        c.report.goal("contain200", f"{what} with cgroups at most 10% slower than without "
                      "(median ratio)", f"{ratio:.3f} ({w * 1000:.1f} against {wo * 1000:.1f} ms, "
                      f"{(w - wo) / BIG_N * 1e6:+.0f} us per service)", ratio <= CONTAIN_LIMIT,
                      why)
    if any(found):
        c.report.notes.append(f"contain200: stops left {plural(found[0], 'daemon')} running and "
                              f"{plural(found[1], 'cgroup')} behind (killed and removed by the "
                              "harness)")


SCALE_CMDS = ("list", "status", "status --json", "check", "switch 3", "switch 0")


@bench("scale", "svc list, status (table, --json), check, switch 3 and switch 0 of N services "
                "(--scale N, default 1000) and of N/2, with max RSS: linear in the services")
def bench_scale(c):
    scale_run(c, "scale", max(2, c.args.scale))


@bench("scale10k", "the scale benchmark at 10,000 services (issue 16's goals: status of all "
                   "< 1 s, check < 2 s, switch linear in N), and at 5,000")
def bench_scale10k(c):
    scale_run(c, "scale10k", 10000)


def scale_run(c, label, full):
    """N generated services in a temporary tree of their own (definitions, rc3.d S and rc0.d K
    links over 10 priority numbers), at N/2 and N: one run of each command in SCALE_CMDS under
    GNU time (its max RSS); status and check while all N run (after switch 3)."""
    sizes = [full // 2, full]
    runs = {}  # size -> {command: Result}
    for n in sizes:
        # A configuration of its own: `svc list` shows these services and no others.
        root = os.path.join(c.tmp, f"{label}-{n}")
        runtime = os.path.join(os.path.dirname(c.svc.state), f"{label}-{n}")
        os.makedirs(root)
        os.makedirs(runtime)
        s = Svc(c.svc.bin, root, runtime, c.r)
        names = [f"sc{i:05d}" for i in range(n)]
        rc3 = os.path.join(s.conf, "runlevels", "rc3.d")
        rc0 = os.path.join(s.conf, "runlevels", "rc0.d")
        os.makedirs(rc3)
        os.makedirs(rc0)
        for i, name in enumerate(names):
            s.define(name, [str(40000 + i)])
            num = 5 + 10 * (i * 10 // n)
            os.symlink(f"../../init.d/{name}.yaml", os.path.join(rc3, f"S{num:02d}{name}"))
            os.symlink(f"../../init.d/{name}.yaml", os.path.join(rc0, f"K{100 - num:02d}{name}"))
        # The tree just written (3 N files and links) goes to disk now, not during a timed
        # command (an earlier run's `list` of 10,000 took 2.4 s against 0.3 s on a settled tree).
        os.sync()
        c.log(f"{label}: {n} services")
        long = max(CMD_TIMEOUT, n / 50)
        r = runs[n] = {}

        def run(cmd, expect=(0,)):
            r[cmd] = c.r.run(s.argv(*cmd.split()), expect=expect, timeout=long, rss=True)
            return r[cmd]
        stopped = False
        try:
            lst = run("list")
            if len(lst.stdout.splitlines()) != n:
                raise BenchError(f"svc list printed {len(lst.stdout.splitlines())} lines, not {n}")
            run("switch 3")
            pids = all_running([s.pidfile(x) for x in names], timeout=max(10.0, n / 100))
            table = run("status")
            shown = sum(1 for ln in table.stdout.splitlines()[1:] if " running " in ln)
            if shown != n:
                raise BenchError(f"svc status shows {shown} of {n} services running")
            js = run("status --json")
            if sum(1 for o in json.loads(js.stdout) if o.get("state") == "running") != n:
                raise BenchError(f"svc status --json does not show {n} services running")
            run("check")
            try:
                run("switch 0")
                none_alive(pids, "svc switch 0")
                stopped = True
            except BenchError as e:
                # Recorded as a miss (a time past the timeout), not an abort: the rest of the
                # figures still count.
                r["switch 0"] = None
                c.report.notes.append(f"{label}: switch 0 of {n} services failed: "
                                      f"{str(e).splitlines()[0]}")
        finally:
            if not stopped:
                try:
                    c.r.run(s.argv("stop", *names), expect=None, timeout=long)
                except BenchError as e:
                    c.report.notes.append(f"{label}: cleanup by svc stop of {n} services "
                                          f"failed ({str(e).splitlines()[0]}); the harness "
                                          "kills them")
                    kill_pidfiles([s.pidfile(x) for x in names])
        # What switch 0 cannot go below at this size: the same N sleeps stopped by the harness
        # in the same K order, a cgroup each when svc contains services (ordered_kill_floor).
        same = types.SimpleNamespace(c=c, names=names,
                                     args={x: str(40000 + i) for i, x in enumerate(names)},
                                     level={x: i * 10 // n for i, x in enumerate(names)})
        r["floor"], contained = ordered_kill_floor(same)
    for n in sizes:
        for cmd in SCALE_CMDS:
            if runs[n][cmd] is None:
                continue
            ser = Series(cmd)
            ser.add(runs[n][cmd])
            c.report.row(f"{label}: {cmd}, {n} services", ser, None, "1 run")
    half, fullr = runs[sizes[0]], runs[full]
    # A command that failed (switch 0 past its timeout) counts as infinitely slow.
    secs = lambda res: res.seconds if res is not None else math.inf  # noqa: E731
    t = {cmd: secs(fullr[cmd]) for cmd in SCALE_CMDS}
    per = full / 10000  # the goals are for 10,000 services, proportionally less for fewer
    c.report.goal(label, f"svc list of {full} services < {per:.2f} s (1 s per 10,000)",
                  f"{t['list'] * 1000:.0f} ms", t["list"] < per,
                  "svc list reads each definition; its time grows with the services")
    worst = max(t["status"], t["status --json"])
    c.report.goal(label, f"svc status of all {full} running services < {per:.2f} s "
                  "(table and --json; 1 s per 10,000)",
                  f"table {t['status'] * 1000:.0f} ms, --json {t['status --json'] * 1000:.0f} ms",
                  worst < per, "status reads every definition and verifies every service's "
                  "process from /proc (bench/RESULTS.md, issue 16)")
    c.report.goal(label, f"svc check of {full} services < {2 * per:.2f} s (2 s per 10,000)",
                  f"{t['check'] * 1000:.0f} ms", t["check"] < 2 * per,
                  "check reads and validates every definition and the dependency graph")
    c.report.goal(label, f"svc switch 0 of {full} services within 2x switch 3",
                  f"{t['switch 0'] / t['switch 3']:.2f}x ({t['switch 0'] * 1000:.0f} against "
                  f"{t['switch 3'] * 1000:.0f} ms)", t["switch 0"] <= 2 * t["switch 3"],
                  "stopping costs more than starting per service")
    for n in sizes:
        fl = Series("floor")
        fl.add_time(runs[n]["floor"])
        c.report.row(f"{label}: floor of switch 0, {n}", fl, None,
                     f"svc/floor {secs(runs[n]['switch 0']) / runs[n]['floor']:.2f}; the harness "
                     f"stops the same {n} sleeps in the same K order"
                     + (", a cgroup each removed once it exited" if contained else "")
                     + "; no lock, record or check (1 run)")
    floor_growth = fullr["floor"] / half["floor"]
    growth = {cmd: secs(fullr[cmd]) / secs(half[cmd]) for cmd in SCALE_CMDS}
    c.report.goal(label, f"linear: {sizes[0]} -> {full} services at most 2.5x the time "
                  f"({', '.join(SCALE_CMDS)})",
                  ", ".join(f"{g:.2f}x" for g in growth.values()),
                  all(g <= 2.5 for g in growth.values()),
                  "something grows faster than the number of services"
                  + (f"; the floor of switch 0 (the harness stopping the same sleeps in K order"
                     f"{', with their cgroups' if contained else ''}) grows {floor_growth:.2f}x"
                     + (": the kernel's exit, reaping and cgroup work is not linear in the "
                        "number of processes" if floor_growth > 2.5 else
                        ", so what grows faster is svc's own work")
                     if growth["switch 0"] > 2.5 else ""))
    rss = {cmd: fullr[cmd].maxrss_kb for cmd in SCALE_CMDS if fullr[cmd] is not None}
    if rss and all(rss.values()):
        c.report.table(f"{label}: max RSS of each svc command, {full} services (GNU time, KiB)",
                       [f"  {cmd:<14} {v:>8} KiB  ({v * 1024 / full:.0f} bytes per service)"
                        for cmd, v in rss.items()])
    else:
        c.report.notes.append(f"{label}: no max RSS (GNU time /usr/bin/time is not installed)")


# ---------------------------------------------------------------------------------------------
# the super daemon: svc inetd versus Debian's xinetd, serving the same nowait TCP service

XINETD = "/usr/sbin/xinetd"
ECHO = os.path.realpath(shutil.which("echo") or "/bin/echo")
INETD_SERVICE = "b-echo"             # the service's name: svc's NAME, xinetd's id and libwrap name
INETD_REPLY = b"hello\n"             # what `echo hello` writes before it exits
INETD_RULES = 1000                   # rules in the long hosts.allow; the last one matches
INETD_CONNS = {1: 500, 16: 2000}     # connections per run, by concurrency
INETD_RUN_LIMIT = 20.0               # seconds; a run stops opening connections after this
INETD_IO_TIMEOUT = 5.0               # seconds; per connection (connect, then read until EOF)
INETD_IDLE_S = 0.5                   # how long a daemon sits idle before its RSS is read
ETC_RULES = ("/etc/hosts.allow", "/etc/hosts.deny")
ETC_BACKUP = ".svc-bench-orig"       # suffix of the copies of /etc's rule files during the run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inetd_patterns(n=INETD_RULES - 1):
    """The n (999) client patterns that do not match 127.0.0.1: addresses, n.n.n. prefixes and
    net/mask pairs in turn, all in 10.0.0.0/8 (valid octets up to n = 59,000)."""
    out = []
    for i in range(n):
        a, b = divmod(i, 250)
        out.append((f"10.{a}.{b}.{i % 7 + 1}", f"10.{a + 10}.{b}.",
                    f"10.{a + 20}.{b}.0/255.255.255.0")[i % 3])
    return out


def rule_files(kind, last="127.0.0.1", n=INETD_RULES - 1):
    """(hosts.allow, hosts.deny) texts. "empty": both empty (every client is granted by
    default). "rules": hosts.deny `ALL : ALL`, and a hosts.allow of 1,000 rules for the
    service whose client patterns do not match `last` except the last rule's, which is `last`:
    every connection from 127.0.0.1 walks all 1,000 and is allowed by line 1,000. (n: how
    many rules come before the last.)"""
    if kind == "empty":
        return "", ""
    lines = [f"{INETD_SERVICE} : {p}\n" for p in inetd_patterns(n)]
    lines.append(f"{INETD_SERVICE} : {last}\n")
    return "".join(lines), "ALL : ALL\n"


def vm_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def proc_cpu(pid):
    """(the process's own CPU seconds, those of its reaped children), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return ((int(fields[11]) + int(fields[12])) / CLK_TCK,
            (int(fields[13]) + int(fields[14])) / CLK_TCK)


def machine_cpu():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK, sum(v) / CLK_TCK


def inetd_fetch(port, timeout=INETD_IO_TIMEOUT):
    """One client connection: connect, read until EOF, close. Returns what was read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        data = b""
        while True:
            chunk = s.recv(256)
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


def inetd_load(port, n, conc):
    """Opens n connections from conc threads (each: connect, read until EOF, close, next);
    returns (latencies in s, wall time in s, errors). Bounded by INETD_RUN_LIMIT."""
    counter = iter(range(n))  # next() on it is atomic under the GIL
    lat = [[] for _ in range(conc)]
    errors = []
    start = threading.Barrier(conc + 1)
    stop_at = [0.0]

    def worker(k):
        mine = lat[k]
        start.wait()
        for _ in counter:
            if time.perf_counter() > stop_at[0]:
                errors.append(f"run stopped after {INETD_RUN_LIMIT:.0f} s")
                return
            t0 = time.perf_counter()
            try:
                data = inetd_fetch(port)
            except OSError as e:
                errors.append(f"{type(e).__name__}: {e}")
                continue
            t1 = time.perf_counter()
            if data != INETD_REPLY:
                errors.append(f"reply {data[:40]!r}")
                continue
            mine.append(t1 - t0)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(conc)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + INETD_RUN_LIMIT
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return [x for m in lat for x in m], wall, errors


class InetdDaemon:
    """A super daemon run in the foreground by the harness (its own session, so a Ctrl-C
    reaches only the harness, which then stops it)."""

    def __init__(self, tool, argv, port, out):
        self.tool, self.argv, self.port, self.out = tool, argv, port, out
        self.proc = None

    def start(self):
        with open(self.out, "ab") as f:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                         start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.tool} exited with {self.proc.returncode} before it "
                                 f"served port {self.port}:\n$ {' '.join(self.argv)}\n{self.tail()}")
            try:
                data = inetd_fetch(self.port, timeout=2)
                if data == INETD_REPLY:
                    return
                raise BenchError(f"{self.tool} on port {self.port} answered {data!r}, not "
                                 f"{INETD_REPLY!r}:\n{self.tail()}")
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{self.tool} does not serve port {self.port} after 10 s:\n"
                                 f"{self.tail()}")
            time.sleep(0.01)

    def tail(self):
        try:
            with open(self.out, errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def rss_kb(self):
        return vm_rss_kb(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.tool} ignored SIGTERM for 10 s; killed", file=sys.stderr)
            self.proc.kill()
            self.proc.wait()


class EtcRules:
    """xinetd's libwrap reads only /etc/hosts.allow and /etc/hosts.deny. This copies them
    aside (FILE.svc-bench-orig), replaces them atomically with the benchmark's rules, and
    restore() renames the copies back: called from a finally block, so Ctrl-C, SIGTERM and
    errors restore them too; a run killed outright leaves the copies, and the next run puts
    them back before anything else."""

    def __init__(self):
        self.saved = {}
        EtcRules.recover()
        for p in ETC_RULES:
            if os.path.exists(p):
                shutil.copy2(p, p + ETC_BACKUP)
                self.saved[p] = True
            else:
                self.saved[p] = False

    @staticmethod
    def recover():
        for p in ETC_RULES:
            if os.path.exists(p + ETC_BACKUP):
                os.replace(p + ETC_BACKUP, p)
                print(f"restored {p} from {p + ETC_BACKUP}, left by an interrupted run",
                      file=sys.stderr)

    @staticmethod
    def write(path, text):
        tmp = path + ".svc-bench-new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    def restore(self):
        sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)  # a second Ctrl-C must not stop it
        try:
            for p, existed in self.saved.items():
                if existed:
                    os.replace(p + ETC_BACKUP, p)
                else:
                    try:
                        os.unlink(p)
                    except FileNotFoundError:
                        pass
            self.saved = {}
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def xinetd_version():
    try:
        r = subprocess.run([XINETD, "-version"], capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip()
    except Exception:
        return ""


def svc_inetd_daemon(c, base, rules, port):
    d = os.path.join(base, f"svc-{rules}")
    conf, logs = os.path.join(d, "config"), os.path.join(d, "log")
    os.makedirs(os.path.join(conf, "init.d"))
    with open(os.path.join(conf, "init.d", INETD_SERVICE + ".yaml"), "w") as f:
        f.write(f"exec: {ECHO}\nargs: [\"hello\"]\n"
                f"socket: {{ port: {port}, bind: 127.0.0.1, protocol: tcp, wait: false }}\n")
    allow, deny = rule_files(rules)
    for name, text in (("hosts.allow", allow), ("hosts.deny", deny)):
        with open(os.path.join(conf, name), "w") as f:
            f.write(text)
    argv = [c.args.svc, "--config-dir", conf, "--state-dir", os.path.join(d, "state"),
            "--log-dir", logs, "--no-color", "inetd"]
    dm = InetdDaemon("svc inetd", argv, port, os.path.join(d, "inetd.out"))
    dm.secure = os.path.join(logs, "secure")
    return dm


def xinetd_daemon(base, rules, port, only_from=None):
    d = os.path.join(base, f"xinetd-{rules}")
    os.makedirs(d)
    conf = os.path.join(d, "xinetd.conf")
    user = "    user = root\n" if os.geteuid() == 0 else ""
    extra = f"    only_from = {' '.join(only_from)}\n" if only_from else ""
    with open(conf, "w") as f:
        f.write(f"""defaults
{{
    log_type = FILE {os.path.join(d, "xinetd.log")}
    log_on_success = HOST PID
    log_on_failure = HOST
}}
service {INETD_SERVICE}
{{
    type = UNLISTED
    socket_type = stream
    protocol = tcp
    wait = no
{user}    server = {ECHO}
    server_args = hello
    port = {port}
    bind = 127.0.0.1
    instances = UNLIMITED
    per_source = UNLIMITED
    cps = 100000 1
    libwrap = {INETD_SERVICE}
{extra}}}
""")
    argv = [XINETD, "-f", conf, "-dontfork", "-stayalive", "-pidfile", os.path.join(d, "pid")]
    return InetdDaemon("xinetd", argv, port, os.path.join(d, "xinetd.out"))


def floor_daemon(c, base, port):
    """bench/inetd_floor.c, compiled here: the least a super daemon can do per connection
    (accept, fork, dup2, exec; no check, no log, no confirmation), serving the same echo."""
    d = os.path.join(base, "floor")
    os.makedirs(d)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inetd_floor.c")
    exe = os.path.join(d, "inetd_floor")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        c.report.notes.append("inetd: no C compiler (cc): the fork/exec floor is not measured "
                              "(apt-get install gcc)")
        return None
    r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True, text=True)
    if r.returncode != 0:
        c.report.notes.append(f"inetd: {cc} could not build {src}, the fork/exec floor is not "
                              f"measured: {(r.stderr or r.stdout).strip()[:300]}")
        return None
    return InetdDaemon("floor", [exe, str(port), ECHO, "hello"], port,
                       os.path.join(d, "floor.out"))


def pct(xs, q):
    s = sorted(xs)  # nearest rank
    return s[max(0, math.ceil(q * len(s)) - 1)]


@bench("inetd", "svc inetd vs xinetd: a nowait TCP service (echo hello) on loopback, conn/s and "
                "p50/p99 latency at concurrency 1 and 16, empty and 1,000-rule hosts.allow; "
                "idle RSS")
def bench_inetd(c):
    rounds = min(3, c.rounds)
    tools = ["svc"]
    etc = None
    only_from = False  # xinetd without libwrap: its own only_from list stands in for the rules
    xnote = ""
    if not os.access(XINETD, os.X_OK):
        xnote = (f"{XINETD} not found: svc inetd is measured alone, without the xinetd "
                 "comparison (apt-get install xinetd)")
    else:
        tools.append("xinetd")
        if "libwrap" not in xinetd_version().split():
            only_from = True
            xnote = ("this xinetd is built without libwrap: its 1,000-rule case uses its own "
                     f"`only_from` list of the same {INETD_RULES} patterns instead of hosts.allow")
        elif os.geteuid() == 0 and os.access("/etc", os.W_OK):
            etc = EtcRules()
        else:
            xnote = ("xinetd reads its rules from /etc/hosts.allow and /etc/hosts.deny, which only "
                     "root can replace: its 1,000-rule case is skipped and its empty-rule case "
                     "runs with /etc's files as they are")
    if xnote:
        c.log(f"inetd: {xnote}")
        c.report.notes.append(f"inetd: {xnote}")
    base = os.path.join(c.tmp, "inetd")
    os.makedirs(base)
    res = {}   # (tool, rules, conc) -> {"rates": [...], "lat": [...], "errors": [...]}
    rss = {}   # (tool, rules, "idle" | "after") -> KiB
    # Every case runs in every round, in an order that turns round by round, so drift on the
    # machine does not favour a tool or a rule set: two svc inetd (one per rule set), and one
    # xinetd whose libwrap re-reads /etc's files at every connection, rewritten between its
    # runs (or, without libwrap, one xinetd per rule set).
    daemons = {}  # (tool, rules) -> InetdDaemon
    etc_now = [None]

    def etc_rules(rules):
        if etc is not None and etc_now[0] != rules:
            allow, deny = rule_files(rules)
            EtcRules.write("/etc/hosts.allow", allow)
            EtcRules.write("/etc/hosts.deny", deny)
            etc_now[0] = rules
    try:
        for rules in ("empty", "rules"):
            daemons[("svc", rules)] = svc_inetd_daemon(c, base, rules, free_port())
        floor = floor_daemon(c, base, free_port())
        if floor is not None:
            tools.append("floor")
            daemons[("floor", "empty")] = floor
        if "xinetd" in tools:
            if only_from:
                of = [p for p in inetd_patterns() if "/" not in p and not p.endswith(".")]
                daemons[("xinetd", "empty")] = xinetd_daemon(base, "empty", free_port())
                daemons[("xinetd", "rules")] = xinetd_daemon(
                    base, "rules", free_port(), (of * 3)[:INETD_RULES - 1] + ["127.0.0.1"])
            else:
                daemons[("xinetd", "empty")] = xinetd_daemon(base, "empty", free_port())
                if etc is not None:
                    daemons[("xinetd", "rules")] = daemons[("xinetd", "empty")]
        for key, dm in daemons.items():
            if dm.proc is None:
                etc_rules("empty")
                dm.start()
        if etc is not None:
            # Prove that xinetd consults libwrap: the 1,000 rules with a last rule that does
            # not match must turn the client away.
            allow, deny = rule_files("rules", last="127.0.0.2")
            EtcRules.write("/etc/hosts.allow", allow)
            EtcRules.write("/etc/hosts.deny", deny)
            etc_now[0] = None
            got = inetd_fetch(daemons[("xinetd", "rules")].port)
            if got != b"":
                raise BenchError("xinetd served a client that /etc/hosts.allow does not allow "
                                 f"({got!r}): does it use libwrap?")
        time.sleep(INETD_IDLE_S)
        for (tool, rules), dm in daemons.items():
            rss[(tool, rules, "idle")] = dm.rss_kb()
        for (tool, rules), dm in daemons.items():  # warm-up, untimed
            etc_rules(rules)
            inetd_load(dm.port, 100, 4)
        cases = [k for k in [(t, r) for r in ("empty", "rules") for t in tools] if k in daemons]
        for r in range(rounds):
            for conc in (1, 16):
                k = (r * 2 + (conc == 16)) % len(cases)
                order = cases[k:] + cases[:k]
                if r % 2:
                    order.reverse()
                for tool, rules in order:
                    if tool == "xinetd":
                        etc_rules(rules)
                    dm = daemons[(tool, rules)]
                    before = (proc_cpu(dm.proc.pid), os.times(), machine_cpu())
                    lat, wall, errs = inetd_load(dm.port, INETD_CONNS[conc], conc)
                    after = (proc_cpu(dm.proc.pid), os.times(), machine_cpu())
                    d = res.setdefault((tool, rules, conc), {"rates": [], "lat": [], "errors": [],
                                                             "cpu": [0.0, 0.0, 0.0, 0, 0.0, 0.0]})
                    d["rates"].append(len(lat) / wall)
                    cpu = d["cpu"]  # daemon s, its servers s, client s, connections, busy, total
                    cpu[0] += after[0][0] - before[0][0]
                    cpu[1] += after[0][1] - before[0][1]
                    cpu[2] += (after[1].user + after[1].system) - (before[1].user + before[1].system)
                    cpu[3] += len(lat)
                    cpu[4] += after[2][0] - before[2][0]
                    cpu[5] += after[2][1] - before[2][1]
                    d["lat"].extend(lat)
                    d["errors"].extend(errs)
                    c.log(f"{tool:6} {rules:5} c={conc:<2} round {r + 1}: "
                          f"{len(lat) / wall:7.0f} conn/s, p50 {pct(lat, .5) * 1000:.2f} ms, "
                          f"p99 {pct(lat, .99) * 1000:.2f} ms"
                          + (f", {len(errs)} errors" if errs else "") if lat else
                          f"{tool} {rules} c={conc}: no connection succeeded ({errs[:1]})")
        time.sleep(INETD_IDLE_S)
        for (tool, rules), dm in daemons.items():
            rss[(tool, rules, "after")] = dm.rss_kb()
        # svc's secure log must show the deciding rule of every connection.
        for rules in ("empty", "rules"):
            with open(daemons[("svc", rules)].secure, errors="replace") as f:
                lines = f.read().splitlines()
            want = "rule=default" if rules == "empty" else f"rule=hosts.allow:{INETD_RULES}"
            bad = [ln for ln in lines if not ln.endswith(want) or " ALLOW " not in ln]
            if bad or not lines:
                raise BenchError(f"svc inetd's secure log has {len(bad)} of {len(lines)} lines "
                                 f"that are not ALLOW ... {want}, e.g. {bad[:1]}")
    finally:
        for dm in daemons.values():
            dm.stop()
        if etc is not None:
            etc.restore()

    def get(tool, rules, conc):
        return res.get((tool, rules, conc))

    def rate(d):
        return statistics.median(d["rates"])

    label = {"empty": "empty rules", "rules": f"{INETD_RULES:,} rules"}
    lines = [f"{'case':<22} {'svc conn/s':>10} {'p50':>7} {'p99':>7}   {'xinetd conn/s':>13} "
             f"{'p50':>7} {'p99':>7}   {'svc/xinetd':>10}   (latency in ms, connect to EOF)",
             "-" * 110]
    for rules in ("empty", "rules"):
        for conc in (1, 16):
            line = f"{'c=' + str(conc) + ', ' + label[rules]:<22} "
            a, b = get("svc", rules, conc), get("xinetd", rules, conc)
            for d in (a, b):
                if d and d["lat"]:
                    line += (f"{rate(d):>{10 if d is a else 13}.0f} {pct(d['lat'], .5) * 1000:7.2f} "
                             f"{pct(d['lat'], .99) * 1000:7.2f}   ")
                else:
                    line += f"{'-':>{10 if d is a else 13}} {'-':>7} {'-':>7}   "
            if a and b and a["lat"] and b["lat"]:
                line += f"{rate(a) / rate(b):10.2f}"
            errs = [f"{t} {len(d['errors'])} errors" for t, d in (("svc", a), ("xinetd", b))
                    if d and d["errors"]]
            if errs:
                line += "   " + ", ".join(errs)
            lines.append(line)

    fl = {conc: get("floor", "empty", conc) for conc in (1, 16)}
    for conc, d in fl.items():
        if d and d["lat"]:
            a = get("svc", "empty", conc)
            share = f"   svc (empty rules) = {rate(a) / rate(d) * 100:.0f}% of it" if a and a["lat"] else ""
            lines.append(f"{'c=' + str(conc) + ', fork/exec floor':<22} {rate(d):>10.0f} "
                         f"{pct(d['lat'], .5) * 1000:7.2f} {pct(d['lat'], .99) * 1000:7.2f}"
                         f"   (bench/inetd_floor.c: accept, fork, dup2, exec; nothing else){share}")

    lines.append("")
    lines.append(f"{'CPU per connection (us)':<22} {'daemon':>10} {'servers':>7} {'client':>7}   "
                 f"{'daemon':>13} {'servers':>7} {'client':>7}   {'CPUs busy':>10}")
    for rules in ("empty", "rules"):
        for conc in (1, 16):
            line = f"{'c=' + str(conc) + ', ' + label[rules]:<22} "
            busy = []
            for t, w in (("svc", 10), ("xinetd", 13)):
                d = get(t, rules, conc)
                if d and d["cpu"][3]:
                    u = d["cpu"]
                    line += (f"{u[0] / u[3] * 1e6:>{w}.0f} {u[1] / u[3] * 1e6:7.0f} "
                             f"{u[2] / u[3] * 1e6:7.0f}   ")
                    busy.append(f"{u[4] / u[5] * 100:.0f}%")
                else:
                    line += f"{'-':>{w}} {'-':>7} {'-':>7}   "
            lines.append(line + f"{' / '.join(busy):>10}")
    for conc, d in fl.items():
        if d and d["cpu"][3]:
            u = d["cpu"]
            lines.append(f"{'c=' + str(conc) + ', fork/exec floor':<22} {u[0] / u[3] * 1e6:>10.0f} "
                         f"{u[1] / u[3] * 1e6:7.0f} {u[2] / u[3] * 1e6:7.0f}   "
                         f"{'':>29}{u[4] / u[5] * 100:>9.0f}%")

    def kb(v):
        return f"{v} KiB" if v else "-"
    lines.append("")
    for tool in tools:
        lines.append(f"{tool + ' RSS:':<12} idle {kb(rss.get((tool, 'empty', 'idle'))):>9}, after load "
                     f"{kb(rss.get((tool, 'empty', 'after'))):>9};  {INETD_RULES:,} rules: idle "
                     f"{kb(rss.get((tool, 'rules', 'idle'))):>9}, after load "
                     f"{kb(rss.get((tool, 'rules', 'after'))):>9}  (VmRSS)")
    c.report.table(f"inetd: one `{ECHO} hello` per connection on 127.0.0.1; {rounds} rounds of "
                   f"{INETD_CONNS[1]} connections at c=1 and {INETD_CONNS[16]} at c=16 each; "
                   "conn/s the median of the rounds, p50/p99 over all their connections", lines)
    for (tool, rules, conc), d in sorted(res.items()):
        if d["errors"]:
            c.report.notes.append(f"inetd: {tool}, {label[rules]}, c={conc}: {len(d['errors'])} "
                                  f"failed connections, e.g. {d['errors'][0]}")

    # goals
    ncpu = len(os.sched_getaffinity(0))
    if "xinetd" in tools:
        pairs = [(rules, get("svc", rules, 16), get("xinetd", rules, 16)) for rules in ("empty", "rules")]
        pairs = [(r, a, b) for r, a, b in pairs if a and b and a["lat"] and b["lat"]]
        if pairs:
            ratios = {r: rate(a) / rate(b) for r, a, b in pairs}
            ok = all(v >= 1.2 for v in ratios.values())
            r0, a0, b0 = pairs[0]
            ua, ub = a0["cpu"], b0["cpu"]
            why = "both daemons fork and exec one echo per connection"
            if ua[3] and ub[3]:
                srv, cli, own = ua[1] / ua[3], ua[2] / ua[3], ua[0] / ua[3]
                cap = ncpu / (srv + cli)
                why = (f"{label[r0]}, c=16: per connection the server process alone (the "
                       f"daemon's forked child, the exec of echo, its exit) takes "
                       f"{srv * 1e6:.0f} us of CPU under svc ({ub[1] / ub[3] * 1e6:.0f} us under "
                       f"xinetd) and the load generator {cli * 1e6:.0f} us, so on {ncpu} CPUs "
                       f"even a super daemon that cost nothing would serve at most ~{cap:.0f} "
                       f"conn/s here, {cap / rate(b0):.2f}x xinetd's {rate(b0):.0f}; svc's own "
                       f"loop takes {own * 1e6:.0f} us per connection (xinetd "
                       f"{ub[0] / ub[3] * 1e6:.0f} us); the CPUs are {ua[4] / ua[5] * 100:.0f}% "
                       f"busy under svc against {ub[4] / ub[5] * 100:.0f}% under xinetd")
                f16 = get("floor", "empty", 16)
                if f16 and f16["lat"]:
                    why += (f"; the fork/exec floor itself (no check, no log) served "
                            f"{rate(f16):.0f} conn/s, {rate(f16) / rate(b0):.2f}x xinetd's")
            c.report.goal("inetd", "conn/s at c=16 >= 1.2x xinetd's",
                          "; ".join(f"{label[r]}: {ratios[r]:.2f}x ({rate(a):.0f} against "
                                    f"{rate(b):.0f} conn/s)" for r, a, b in pairs), ok, why)
    f16 = get("floor", "empty", 16)
    if f16 and f16["lat"]:
        shares = {r: rate(a) / rate(f16) for r in ("empty", "rules")
                  for a in [get("svc", r, 16)] if a and a["lat"]}
        uf = f16["cpu"]
        us = (get("svc", "empty", 16) or {}).get("cpu")
        why = "svc's loop costs more per connection than the floor's accept+fork"
        if us and us[3] and uf[3]:
            why = (f"per connection svc's daemon takes {us[0] / us[3] * 1e6:.0f} us of CPU and "
                   f"its server {us[1] / us[3] * 1e6:.0f} us; the floor's "
                   f"{uf[0] / uf[3] * 1e6:.0f} and {uf[1] / uf[3] * 1e6:.0f} us (svc also checks "
                   "the rules, writes the secure log line, counts the limits, starts the server "
                   "in its own session and confirms its exec)")
        c.report.goal("inetd", "conn/s at c=16 >= 95% of the fork/exec floor's (same run)",
                      "; ".join(f"{label[r]}: {v * 100:.0f}% ({rate(get('svc', r, 16)):.0f} "
                                f"against {rate(f16):.0f} conn/s)" for r, v in shares.items()),
                      bool(shares) and all(v >= 0.95 for v in shares.values()), why)
    if "xinetd" in tools:
        cases = [(rules, conc, get("svc", rules, conc), get("xinetd", rules, conc))
                 for rules in ("empty", "rules") for conc in (1, 16)]
        cases = [(r, n, a, b) for r, n, a, b in cases if a and b and a["lat"] and b["lat"]]
        if cases:
            p99 = {(r, n): (pct(a["lat"], .99), pct(b["lat"], .99)) for r, n, a, b in cases}
            worse = [(r, n) for (r, n), (x, y) in p99.items() if x >= y]
            c.report.goal("inetd", "p99 latency below xinetd's (c=1 and c=16, both rule sets)",
                          "; ".join(f"c={n} {label[r]}: {x * 1000:.2f} against {y * 1000:.2f} ms"
                                    for (r, n), (x, y) in p99.items()), not worse,
                          "svc's p99 is not below xinetd's for " + ", ".join(
                              f"c={n} {label[r]}" for r, n in worse))
        ia, ib = rss.get(("svc", "empty", "idle")), rss.get(("xinetd", "empty", "idle"))
        if ia and ib:
            c.report.goal("inetd", "idle RSS <= xinetd's + 1 MiB",
                          f"{ia} KiB against {ib} KiB ({ia - ib:+d} KiB; after load "
                          f"{rss.get(('svc', 'empty', 'after'))} against "
                          f"{rss.get(('xinetd', 'empty', 'after'))} KiB)", ia <= ib + 1024,
                          "svc is one binary for every command (clap, the YAML parser, the "
                          "runlevel code are all mapped), a larger resident image than xinetd's")
    deltas = {}
    for conc in (1, 16):
        a, b = get("svc", "empty", conc), get("svc", "rules", conc)
        if a and b and a["lat"] and b["lat"]:
            deltas[conc] = rate(b) / rate(a) - 1
    if deltas:
        c.report.goal("inetd", f"svc conn/s with {INETD_RULES:,} rules within 10% of the "
                      "empty-rule figure",
                      "; ".join(f"c={n}: {v * 100:+.1f}%" for n, v in deltas.items()),
                      all(v >= -0.10 for v in deltas.values()),
                      "svc checks the rules in its single loop, before the fork: the walk "
                      f"through {INETD_RULES:,} rules per connection costs more than 10% of "
                      "a connection")


# ---------------------------------------------------------------------------------------------
# supervision: svc's respawn supervisor versus runit (runsv) and supervisord

RUNSV, RUNSVDIR, SV = "/usr/bin/runsv", "/usr/bin/runsvdir", "/usr/bin/sv"
SUPERVISORD = "/usr/bin/supervisord"
SUP_UPTIME = 1.25   # s an instance has run (since its "up") before it is killed: over the 1 s
                    # after which svc, runsv and supervisord (startsecs=1) all restart at once
SUP_TIMEOUT = 10.0  # s to wait for an "up"
SUP_N = 10          # services in the memory measurement
SUP_IDLE = 2.0      # s the supervisors sit idle before their memory is read
SUP_BOOT = 2000     # bootstrap resamples for the noise interval of the latency ratio
SUP_LABEL = {"svc": "svc (svc supervise)", "runit": "runit (runsv)",
             "supervisord": "supervisord", "floor": "floor (spawn by the harness)"}


class Announcer:
    """The FIFO every supervised program writes its "up" line to (`NAME PID`, one write of less
    than PIPE_BUF bytes, so lines never mix). Opened read-write, so it never reports EOF and a
    writer never blocks; the harness notes the time each line arrives (poll, no timer)."""

    def __init__(self, path):
        self.path = path
        os.mkfifo(path, 0o644)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self.buf = b""
        self.seen = {}  # name -> [(pid, perf_counter when read)], in order

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _pump(self, timeout):
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        if not p.poll(max(0, timeout) * 1000):
            return
        t = time.perf_counter()
        try:
            self.buf += os.read(self.fd, 65536)
        except BlockingIOError:
            return
        *lines, self.buf = self.buf.split(b"\n")
        for ln in lines:
            name, _, pid = ln.decode(errors="replace").partition(" ")
            if pid.isdigit():
                self.seen.setdefault(name, []).append((int(pid), t))

    def wait(self, name, count, timeout=SUP_TIMEOUT):
        """Waits until `name` has announced itself `count` times; returns its last (pid, time)."""
        deadline = time.perf_counter() + timeout
        while len(self.seen.get(name, ())) < count:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchError(f"no \"up\" from {name} within {timeout:.0f} s "
                                 f"({len(self.seen.get(name, ()))} of {count})")
            self._pump(left)
        return self.seen[name][-1]

    def count(self, name):
        return len(self.seen.get(name, ()))


def sup_program(d, name, fifo):
    """The supervised program, one file per service, the same text but for its name: announce
    "up" on the FIFO, then become a long sleep."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho \"{name} $$\" > {fifo}\nexec {SLEEP} 100000\n")
    os.chmod(path, 0o755)
    return path


def smaps_rollup(pid):
    """(Pss, USS = Private_Clean + Private_Dirty) in KiB from /proc/PID/smaps_rollup."""
    v = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Pss", "Private_Clean", "Private_Dirty"):
                    v[k] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None, None
    if "Pss" not in v:
        return None, None
    return v["Pss"], v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)


def proc_minflt(pid):
    """The process's own minor page faults so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


class SvcSupervised:
    """svc: `respawn: {max: 1000, window: 60}` (backoff at its default; an instance that ran
    >= 1 s is restarted at once); `svc start`/`svc stop`. Its supervisors are found from
    <state>/NAME.supervisor, `supervisor.pid`."""

    tool = "svc"

    def __init__(self, c, names, progs):
        self.c, self.names = c, names
        for n in names:
            c.svc.define_yaml(n, f"exec: {progs[n]}\nrespawn: {{max: 1000, window: 60}}\n"
                                 "stop_timeout: 10\n")
        self.started = False

    def start(self):
        self.started = True
        self.c.svc.run("start", *self.names)

    def supervisors(self):
        pids = []
        for n in self.names:
            path = os.path.join(self.c.svc.state, n + ".supervisor")
            try:
                with open(path) as f:
                    pid = int(json.load(f)["supervisor"]["pid"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise BenchError(f"cannot read the supervisor's PID from {path}: {e}")
            if not proc_alive(pid) or b"supervise" not in proc_cmdline(pid):
                raise BenchError(f"{path} names PID {pid}, which is not a running svc supervise "
                                 f"({proc_cmdline(pid)})")
            pids.append(pid)
        return {"svc supervise": pids}

    def stop(self):
        if self.started:
            self.started = False
            self.c.svc.run("stop", *self.names, expect=None)


class RunitSupervised:
    """runit: one service directory per service, `run` a symlink to the program, no log
    service, under one `runsvdir DIR` (which starts one runsv per directory). Directories on the
    runtime tmpfs (Debian keeps runsv's supervise/ in /run/runit)."""

    tool = "runit"

    def __init__(self, c, base, names, progs):
        self.c, self.names = c, names
        self.dir = os.path.join(base, "service")
        os.makedirs(self.dir)
        for n in names:
            os.makedirs(os.path.join(self.dir, n))
            os.symlink(progs[n], os.path.join(self.dir, n, "run"))
        self.out = os.path.join(c.tmp, f"runsvdir-{names[0]}.out")
        self.proc = None

    def start(self):
        with open(self.out, "ab") as f:
            self.proc = subprocess.Popen([RUNSVDIR, self.dir], stdin=subprocess.DEVNULL, stdout=f,
                                         stderr=f, start_new_session=True)

    def supervisors(self):
        kids = [k for k in children_of(self.proc.pid) if proc_exe(k) == RUNSV]
        if len(kids) != len(self.names):
            raise BenchError(f"runsvdir has {len(kids)} runsv children, not {len(self.names)}")
        res = self.c.r.run([SV, "status", *[os.path.join(self.dir, n) for n in self.names]])
        if res.stdout.count("run: ") != len(self.names):
            raise BenchError(f"sv status does not show every service running:\n{res.describe()}")
        return {"runsv": kids, "runsvdir": [self.proc.pid]}

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        runsvs = [k for k in children_of(self.proc.pid) if proc_exe(k) == RUNSV]
        try:
            self.c.r.run([SV, "-w", "10", "force-stop",
                          *[os.path.join(self.dir, n) for n in self.names]],
                         expect=None, timeout=30)
        finally:
            # runsvdir on SIGHUP sends TERM to each runsv (which then exits) and exits itself.
            self.proc.send_signal(signal.SIGHUP)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            try:
                wait_until(lambda: not any(proc_alive(k) for k in runsvs), "runsv to exit")
            except BenchError:
                for k in runsvs:
                    if proc_alive(k) and proc_exe(k) == RUNSV:
                        os.kill(k, signal.SIGKILL)


class SupervisordSupervised:
    """supervisord in the foreground (-n) with its own configuration: one [program:NAME] per
    service, autorestart=true, startsecs=1, startretries=1000; no [unix_http_server] (so no
    supervisorctl: the leanest supervisord). stopwaitsecs=2 only shortens the cleanup: a TERM
    that reaches a program between supervisord's fork and exec is caught by the child's copy of
    supervisord's Python handler and lost, and supervisord then waits stopwaitsecs to KILL."""

    tool = "supervisord"

    def __init__(self, c, base, names, progs):
        self.c, self.names = c, names
        os.makedirs(base)
        self.conf = os.path.join(base, "supervisord.conf")
        logs = os.path.join(base, "log")
        os.makedirs(logs)
        with open(self.conf, "w") as f:
            f.write(f"[supervisord]\nnodaemon=true\n"
                    f"logfile={os.path.join(logs, 'supervisord.log')}\n"
                    f"pidfile={os.path.join(base, 'supervisord.pid')}\nchildlogdir={logs}\n"
                    + ("user=root\n" if os.geteuid() == 0 else ""))
            for n in names:
                f.write(f"\n[program:{n}]\ncommand={progs[n]}\nautostart=true\nautorestart=true\n"
                        "startsecs=1\nstartretries=1000\nstopwaitsecs=2\n")
        self.out = os.path.join(base, "supervisord.out")
        self.proc = None

    def start(self):
        with open(self.out, "ab") as f:
            self.proc = subprocess.Popen([SUPERVISORD, "-n", "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                         start_new_session=True)

    def supervisors(self):
        if self.proc.poll() is not None:
            raise BenchError(f"supervisord exited with {self.proc.returncode}")
        return {"supervisord": [self.proc.pid]}

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # stops its programs, then exits
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            print("warning: supervisord ignored SIGTERM for 20 s; killed", file=sys.stderr)
            self.proc.kill()
            self.proc.wait()


def sup_tools(c):
    """The tools there are; notes what is missing."""
    tools = ["svc"]
    if all(os.access(p, os.X_OK) for p in (RUNSV, RUNSVDIR, SV)):
        tools.append("runit")
    else:
        c.report.notes.append("supervise: runit is not installed (apt-get install runit): no "
                              "runsv comparison")
    if os.access(SUPERVISORD, os.X_OK):
        tools.append("supervisord")
    else:
        c.report.notes.append("supervise: supervisord is not installed (apt-get install "
                              "supervisor): no supervisord comparison")
    return tools


def sup_make(c, tool, base, names, progs):
    if tool == "svc":
        return SvcSupervised(c, names, progs)
    if tool == "runit":
        return RunitSupervised(c, os.path.join(base, "runit-" + names[0]), names, progs)
    return SupervisordSupervised(c, os.path.join(base, "supervisord-" + names[0]), names, progs)


def foreign_supervisors():
    """runsvdir, runsv and supervisord processes that this benchmark did not start."""
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        argv = proc_cmdline(int(d))
        exe = proc_exe(int(d))
        if exe in (RUNSV, RUNSVDIR) or any(a.endswith(b"/supervisord") for a in argv[:2]):
            out.append(f"{d} ({b' '.join(argv[:3]).decode(errors='replace')})")
    return out


def ratio_interval(a, b, n=SUP_BOOT):
    """95% bootstrap interval of median(a) / median(b), resampling the rounds (fixed seed)."""
    import random
    rng = random.Random(1)
    rs = sorted(statistics.median(rng.choices(a, k=len(a))) /
                statistics.median(rng.choices(b, k=len(b))) for _ in range(n))
    return rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


@bench("supervise", "svc respawn vs runit (runsv) and supervisord: restart latency after a "
                    "kill -9 (median, p90) and idle memory of the supervisors of 10 services")
def bench_supervise(c):
    tools = sup_tools(c)
    foreign = foreign_supervisors()
    if foreign:
        c.report.notes.append("supervise: supervisors not started by the benchmark were running: "
                              + ", ".join(foreign[:5]))
    base = os.path.join(c.ssd.dir, "..", "supervise")
    base = os.path.realpath(base)
    progdir = os.path.join(c.tmp, "supervise-prog")
    os.makedirs(base)
    os.makedirs(progdir)
    ann = Announcer(os.path.join(base, "up.fifo"))
    running = []  # what is started, stopped in the finally
    lat = {t: Series(t) for t in tools + ["floor"]}
    mem = {}      # tool -> {process kind: [(pid, rss, pss, uss)]}
    faults = {}   # tool -> the supervisor's minor page faults per restart
    try:
        # --- restart latency: one service per tool, all three up at once; each round kills
        # each tool's instance in turn (the order turning), after >= SUP_UPTIME of uptime.
        names = {t: f"lat-{t}" for t in tools + ["floor"]}
        progs = {names[t]: sup_program(progdir, names[t], ann.path) for t in names}
        sup = {}
        for t in tools:
            sup[t] = sup_make(c, t, base, [names[t]], progs)
            running.append(sup[t])
            t0 = time.perf_counter()
            sup[t].start()
            ann.wait(names[t], 1)
            c.log(f"supervise: {t} up in {time.perf_counter() - t0:.2f} s")
        # The supervisor itself (svc supervise, runsv, supervisord): its minor page faults per
        # restart, counted over the measured rounds.
        main = {t: next(iter(sup[t].supervisors().values()))[0] for t in tools}
        for i in range(c.warmup + c.rounds):
            warm = i < c.warmup
            k = i % len(tools)
            for t in tools[k:] + tools[:k] + ["floor"]:
                if t == "floor":
                    # The physical limit: the harness spawns the program itself and waits for
                    # its "up" (fork, exec of sh, echo to the FIFO).
                    n0 = ann.count(names[t])
                    t0 = time.perf_counter()
                    p = subprocess.Popen([progs[names[t]]], stdin=subprocess.DEVNULL)
                    try:
                        _, t1 = ann.wait(names[t], n0 + 1)
                    finally:
                        p.kill()
                        p.wait()
                    if not warm:
                        lat[t].add_time(t1 - t0)
                    continue
                pid, up = ann.seen[names[t]][-1]
                wait = up + SUP_UPTIME - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)  # the instance must have run > 1 s: restart at once
                if proc_exe(pid) != SLEEP:
                    raise BenchError(f"{t}: PID {pid} of {names[t]} is not a running {SLEEP}")
                if i == c.warmup:
                    faults[t] = proc_minflt(main[t])
                n0 = ann.count(names[t])
                t0 = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                newpid, t1 = ann.wait(names[t], n0 + 1)
                if newpid == pid:
                    raise BenchError(f"{t}: the replacement announced the killed PID {pid}")
                if not warm:
                    lat[t].add_time(t1 - t0)
        for t in tools:
            if ann.count(names[t]) != 1 + c.warmup + c.rounds:
                raise BenchError(f"{t}: {ann.count(names[t])} starts of {names[t]}, expected "
                                 f"{1 + c.warmup + c.rounds} (an extra restart?)")
        c.log("supervise: latency rounds done")
        time.sleep(0.2)  # the last restart's own bookkeeping after the "up"
        for t in tools:
            faults[t] = (proc_minflt(main[t]) - faults[t]) / c.rounds
        for t in reversed(tools):
            t0 = time.perf_counter()
            sup[t].stop()
            running.remove(sup[t])
            c.log(f"supervise: {t} stopped in {time.perf_counter() - t0:.2f} s")

        # --- idle memory: SUP_N services under each tool, one tool at a time.
        for t in tools:
            mnames = [f"m{t[:2]}{j}" for j in range(SUP_N)]
            mprogs = {n: sup_program(progdir, n, ann.path) for n in mnames}
            s = sup_make(c, t, base, mnames, mprogs)
            running.append(s)
            s.start()
            for n in mnames:
                ann.wait(n, 1)
            time.sleep(SUP_IDLE)  # idle: what the supervisors hold once start-up is over
            procs = s.supervisors()
            mem[t] = {kind: [(p, vm_rss_kb(p), *smaps_rollup(p)) for p in pids]
                      for kind, pids in procs.items()}
            for kind, rows in mem[t].items():
                if any(r[1] is None or r[2] is None for r in rows):
                    raise BenchError(f"{t}: cannot read the memory of {kind} {rows}")
            for n in mnames:
                if ann.count(n) != 1:
                    raise BenchError(f"{t}: {n} restarted while idle ({ann.count(n)} starts)")
            t0 = time.perf_counter()
            s.stop()
            running.remove(s)
            c.log(f"supervise: {t}, {SUP_N} services measured; stopped in "
                  f"{time.perf_counter() - t0:.2f} s")
    finally:
        for s in reversed(running):
            t0 = time.perf_counter()
            try:
                s.stop()
            except Exception as e:  # the subreaper kills what is left anyway
                print(f"warning: supervise cleanup ({s.tool}): {e}", file=sys.stderr)
            c.log(f"supervise: cleanup: {s.tool} stopped in {time.perf_counter() - t0:.2f} s")
        # The programs of the supervisors that were stopped must be gone too.
        for name, seen in ann.seen.items():
            for pid, _ in seen:
                if proc_alive(pid) and proc_exe(pid) == SLEEP and \
                        proc_cmdline(pid)[1:2] == [b"100000"]:
                    print(f"cleanup: killing left-over {name} PID {pid}", file=sys.stderr)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        ann.close()

    # --- report
    rows = [t for t in tools + ["floor"] if lat[t].seconds]
    lines = [f"{'tool':<30} {'median':>8} {'p90':>8} {'min':>8} {'max':>8}  {'faults':>6}   (ms, "
             f"kill -9 to the replacement's \"up\"; faults: the supervisor's minor page faults "
             f"per restart)", "-" * 110]
    for t in rows:
        s = sorted(lat[t].seconds)
        note = ""
        if t == "floor":
            note = "   spawn of the program to its \"up\": the physical limit"
        elif t == "supervisord":
            note = "   restarts on the next pass of its main loop, after poll(timeout=1 s)"
        flt = f"{faults[t]:6.0f}" if t in faults else f"{'-':>6}"
        lines.append(f"{SUP_LABEL[t]:<30} {ms(lat[t].median)} {ms(lat[t].p90)} {ms(s[0])} "
                     f"{ms(s[-1])}  {flt}{note}")
    lo = hi = None
    if "runit" in tools:
        a, b = lat["svc"], lat["runit"]
        lo, hi = ratio_interval(a.seconds, b.seconds)
        lines.append(f"{'svc/runsv (median)':<30} {a.median / b.median:8.3f}   95% bootstrap "
                     f"interval {lo:.3f} .. {hi:.3f}; p90 ratio {a.p90 / b.p90:.3f}")
    if "supervisord" in tools:
        lines.append(f"{'svc/supervisord (median)':<30} "
                     f"{lat['svc'].median / lat['supervisord'].median:8.3f}")
    c.report.table(f"supervise: restart latency, {c.rounds} rounds (+{c.warmup} warm-up), each "
                   f"instance killed (SIGKILL) after >= {SUP_UPTIME} s up; the program "
                   f"`/bin/sh` announcing \"up\" on a FIFO, then `exec {SLEEP} 100000`", lines)

    def tot(rows, i):
        return sum(r[i] for r in rows)
    mlines = [f"{'processes':<30} {'count':>5}  {'RSS total':>9} {'/service':>8}  "
              f"{'PSS total':>9} {'/service':>8}  {'USS total':>9} {'/service':>8}   (KiB)",
              "-" * 104]
    per = {}  # tool -> (rss, pss, uss) per service, of the supervising processes that decide
    for t in tools:
        if t not in mem:
            continue
        for kind, prs in mem[t].items():
            r, p, u = tot(prs, 1), tot(prs, 2), tot(prs, 3)
            mlines.append(f"{t + ': ' + kind:<30} {len(prs):>5}  {r:>9} {r / SUP_N:>8.0f}  "
                          f"{p:>9} {p / SUP_N:>8.0f}  {u:>9} {u / SUP_N:>8.0f}")
            if kind != "runsvdir":
                per[t] = (r / SUP_N, p / SUP_N, u / SUP_N, r, p, u)
    mlines.append(f"(per service = total / {SUP_N} services; runsvdir reported apart; VmRSS from "
                  "/proc/PID/status, Pss and Private_Clean+Private_Dirty from smaps_rollup)")
    c.report.table(f"supervise: idle memory of the supervising processes only, {SUP_N} services "
                   f"per tool (one tool at a time), read after {SUP_IDLE:.0f} s idle", mlines)

    # --- goals
    if "runit" in tools:
        a, b = lat["svc"], lat["runit"]
        ratio = a.median / b.median
        ok = ratio <= 1.0 or lo <= 1.0
        c.report.goal("supervise", "restart latency svc/runsv median <= 1.0 within noise (noise: "
                      "the 95% bootstrap interval of the ratio reaches 1.0)",
                      f"{ratio:.3f} ({a.median * 1000:.2f} against {b.median * 1000:.2f} ms; "
                      f"interval {lo:.3f} .. {hi:.3f})", ok,
                      f"svc's supervisor takes {(a.median - b.median) * 1000:.2f} ms more per "
                      "restart than runsv: between the reap and the exec it removes the PID file "
                      "and identity record, checks the process group, saves its state file, "
                      "re-checks the program and resolves the user, then records the new "
                      "instance's identity and PID file before it may exec, where runsv only "
                      f"forks and execs ./run; it also takes {faults.get('svc', 0):.0f} minor "
                      f"page faults per restart against runsv's {faults.get('runit', 0):.0f} "
                      "(when idle it drops its code pages from its page tables, "
                      "shed_startup_pages, so each restart faults them back in)")
    if "svc" in per and "runit" in per:
        sr, rr = per["svc"][0], per["runit"][0]
        c.report.goal("supervise", "idle supervisor memory per service <= 2x runsv's (RSS "
                      "decides; PSS and USS shown)",
                      f"RSS {sr:.0f} against {rr:.0f} KiB = {sr / rr:.2f}x (PSS "
                      f"{per['svc'][1]:.0f} against {per['runit'][1]:.0f} KiB = "
                      f"{per['svc'][1] / per['runit'][1]:.2f}x; "
                      f"USS {per['svc'][2]:.0f} against {per['runit'][2]:.0f} KiB = "
                      f"{per['svc'][2] / per['runit'][2]:.2f}x)", sr <= 2 * rr,
                      "each svc supervise is the whole svc binary (one executable for every "
                      "command, 2.6 MB): its resident code and heap exceed those of runsv, a "
                      "31 KB program on libc")
    if "svc" in per and "supervisord" in per:
        sr, dt = per["svc"][0], per["supervisord"][3]
        c.report.goal("supervise", f"idle supervisor memory per service < a tenth of "
                      f"supervisord's total ({SUP_N} services; RSS decides)",
                      f"RSS {sr:.0f} against {dt / 10:.0f} KiB ({per['svc'][3]} KiB for "
                      f"{SUP_N} svc supervisors, {dt} KiB for one supervisord; PSS "
                      f"{per['svc'][1]:.0f} against {per['supervisord'][4] / 10:.0f} KiB)",
                      sr < dt / 10,
                      "ten svc supervisors hold more resident memory than one Python supervisord")


# ---------------------------------------------------------------------------------------------
# main: the subreaper and the runner


# ---------------------------------------------------------------------------------------------
# sysv200: a SysV system's own scripts (issue 14)

SYSV_N = 200       # generated scripts (bench/sysv_tree.py, seed SYSV_SEED), plus its fixed ones
SYSV_SEED = 200
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The namespace wrapper: every runner of sysv200 runs in a private mount namespace whose
# /etc/init.d and /etc/rc2.d are the tree's (startpar -M and sysv-rc's rc only read /etc).
SYSV_NS = 'mount --bind "$0/init.d" /etc/init.d && mount --bind "$0/rc2.d" /etc/rc2.d && exec "$@"'


def first_file(*paths):
    return next((p for p in paths if p and os.path.isfile(p)), None)


def sysv_tools():
    """insserv, startpar and sysv-rc's rc: installed, else the private copies .ci/run unpacks
    into target/ (insserv, sysvrc; startpar it installs)."""
    t = os.path.join(REPO, "target")
    return (first_file("/usr/sbin/insserv", "/sbin/insserv", f"{t}/insserv/sbin/insserv",
                       f"{t}/insserv/usr/sbin/insserv"),
            first_file(shutil.which("startpar"), "/sbin/startpar", "/bin/startpar"),
            first_file("/lib/init/rc", "/usr/lib/init/rc", f"{t}/sysvrc/lib/init/rc"))


def makefile_edges(path):
    edges = []
    with open(path) as f:
        for line in f:
            if "=" not in line and ":" in line:
                t, pre = line.split(":", 1)
                edges += [(p, t.strip()) for p in pre.split()]
    return edges


def check_sysv_run(log, entries, edges, who):
    """Every S entry of rc2.d started exactly once, every makefile edge kept."""
    with open(log) as f:
        lines = [l.split()[1] for l in f if l.startswith("start ")]
    os.unlink(log)
    if sorted(lines) != sorted(entries):
        raise BenchError(f"sysv200: {who} started {len(lines)} scripts, not the {len(entries)} "
                         f"of rc2.d (missing {sorted(set(entries) - set(lines))[:5]})")
    pos = {n: i for i, n in enumerate(lines)}
    for a, b in edges:
        if a in pos and b in pos and pos[a] > pos[b]:
            raise BenchError(f"sysv200: {who} started {b} before {a}, against .depend.start")


@bench("sysv200", "boot of 200 LSB scripts with a dependency web: svc switch 2 vs startpar -M "
                  "(sysv-rc's rc) and the sequential rc loop; ordering: svc vs insserv")
def bench_sysv200(c):
    insserv, startpar, rc = sysv_tools()
    if os.geteuid() != 0 or not shutil.which("unshare") or not (insserv and startpar and rc):
        c.report.notes.append(
            f"sysv200: skipped; needs root, unshare(1), insserv ({insserv}), startpar "
            f"({startpar}) and sysv-rc's rc ({rc}) — .ci/run provides them")
        return
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import sysv_tree
    root = os.path.join(c.tmp, "sysv200")
    etc, log = os.path.join(root, "etc"), os.path.join(root, "log")
    tree = sysv_tree.generate(SYSV_SEED, SYSV_N)
    sysv_tree.write(etc, tree, log)
    names = [n for n, _ in tree]
    init_d = os.path.join(etc, "init.d")
    ins = [insserv, "-p", init_d, "-c", os.path.join(etc, "insserv.conf"),
           "-o", os.path.join(etc, "overrides"), "-i", init_d]
    c.r.run(ins + names)  # untimed: the links and makefiles every runner uses
    entries = [f[3:] for f in os.listdir(os.path.join(etc, "rc2.d")) if f.startswith("S")]
    edges = makefile_edges(os.path.join(init_d, ".depend.start"))
    state = os.path.join(root, "svc-state")
    svc = [c.svc.bin, "--sysv-dir", etc, "--config-dir", c.svc.conf, "--state-dir", state,
           "--log-dir", c.svc.logs, "--no-color"]
    ns = [shutil.which("unshare"), "--mount", "--propagation", "private", "/bin/sh", "-c", SYSV_NS, etc]
    legacy = os.path.join(init_d, ".legacy-bootordering")  # rc: CONCURRENCY=none
    env = dict(c.r.env)
    c.r.env.update(RUNLEVEL="2", PREVLEVEL="N")

    def boot(tool):
        if tool == "svc":
            shutil.rmtree(state, ignore_errors=True)
            return c.r.run(ns + svc + ["switch", "2"])
        if tool == "loop":
            open(legacy, "w").close()
        try:
            return c.r.run(ns + [rc, "2"])
        finally:
            if os.path.exists(legacy):
                os.unlink(legacy)

    rounds = big_rounds(c)
    a, b, l, nsr = (Series("svc switch 2"), Series("startpar -M"), Series("rc loop"),
                    Series("namespace"))
    try:
        for i in range(1 + rounds):
            warm = i == 0
            order = ["svc", "startpar", "loop"]
            for tool in order[i % 3:] + order[:i % 3]:
                res = boot(tool)
                check_sysv_run(log, entries, edges, tool)
                {"svc": a, "startpar": b, "loop": l}[tool].add(res, timed=not warm)
            nsr.add(c.r.run(ns + ["/bin/true"]), timed=not warm)
    finally:
        c.r.env.clear()
        c.r.env.update(env)
    n = len(entries)
    c.report.row(f"sysv200: boot, {n} scripts of rc2.d", a, b,
                 f"other: sysv-rc's rc 2 with insserv's makefiles = startpar -M; "
                 f"{plural(rounds, 'round')}")
    c.report.row(f"sysv200: boot, {n} scripts of rc2.d", a, l,
                 "other: sysv-rc's rc 2, CONCURRENCY=none (the sequential loop)")
    c.report.row("sysv200: namespace wrapper alone", nsr, None,
                 "unshare + 2 bind mounts, in every boot figure above")
    # Ordering: insserv -n (resolve every header, compute numbers, print) against svc check
    # (load every script and header, resolve names, facilities and the graph) and, shown, the
    # dry-run plan, which also asks every script for its status.
    o_svc, o_ins, o_plan, o_write = (Series("svc check"), Series("insserv -n"),
                                     Series("svc switch 2 --dry-run"), Series("insserv"))
    for i in range(1 + c.rounds):
        warm = i == 0
        for tool in (("svc", "ins") if i % 2 == 0 else ("ins", "svc")):
            if tool == "svc":
                o_svc.add(c.r.run(svc + ["check"], rss=warm), timed=not warm)
            else:
                o_ins.add(c.r.run(ins + ["-n"] + names, rss=warm), timed=not warm)
        if i < 1 + rounds:
            o_plan.add(c.r.run(svc + ["switch", "2", "--dry-run"]), timed=not warm)
            o_write.add(c.r.run(ins + names), timed=not warm)
    c.report.row(f"sysv200: ordering {len(names)} scripts", o_svc, o_ins,
                 "svc check against insserv -n")
    c.report.row("sysv200: plan with status probes", o_plan, o_write,
                 "svc switch 2 --dry-run against insserv writing links + makefiles")
    sp = b.median / a.median
    c.report.goal("sysv200", "svc switch 2 faster than startpar -M at boot (startpar/svc)",
                  f"{sp:.2f}x ({a.median * 1000:.1f} ms against {b.median * 1000:.1f} ms; "
                  f"sequential loop {l.median * 1000:.1f} ms)", sp > 1.0,
                  "svc runs each script twice where startpar runs it once: it asks "
                  "`SCRIPT status` (a script service's state is the script's) before it plans "
                  "the start, each through /bin/sh -c 'umask ...; exec SCRIPT' (two shells), and "
                  "it finishes one number before the next starts where startpar follows only "
                  "the makefile's edges; see docs/benchmarks.md")
    so = o_ins.median / o_svc.median
    c.report.goal("sysv200", "ordering faster than insserv -n (insserv/svc check)",
                  f"{so:.2f}x ({o_svc.median * 1000:.1f} ms against {o_ins.median * 1000:.1f} ms)",
                  so > 1.0, "svc parses every script's header as insserv does and also checks "
                  "each script's trust and every definition")


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
        if "contain200" in names:
            crounds = args.big_rounds if args.big_rounds else min(10, args.rounds)
            print(f"          contain200: {crounds} rounds (+1 warm-up), with and without cgroups "
                  "interleaved, 200 daemons a round", flush=True)
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
                "tables": [{"title": t, "lines": ls} for t, ls in report.tables],
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

# ---------------------------------------------------------------------------------------------
# svc serve (SPEC §10): its memory next to svc inetd's, and how fast it answers

SERVE_SERVICES = 20


def unix_http(sock_path, method, path, body=b"", timeout=10.0):
    """One HTTP/1.1 request over a UNIX socket (Connection: close); (status, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        head = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n")
        s.sendall(head.encode() + body)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


GET_ALL = (b"<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo"
           b"</methodName><params></params></methodCall>")


@bench("serve", "svc serve: idle RSS against svc inetd's (goal: within 1 MiB), and the time of "
                "getAllProcessInfo and of a /metrics scrape with 20 running services")
def bench_serve(c):
    base = os.path.join(c.tmp, "serve")
    conf, state, logs = (os.path.join(base, d) for d in ("config", "state", "log"))
    os.makedirs(os.path.join(conf, "init.d"))
    names = [f"s{i:02}" for i in range(SERVE_SERVICES)]
    for n in names:
        with open(os.path.join(conf, "init.d", n + ".yaml"), "w") as f:
            f.write(f"exec: {SLEEP}\nargs: [\"1000\"]\n")
    port = free_port()
    with open(os.path.join(conf, "init.d", INETD_SERVICE + ".yaml"), "w") as f:
        f.write(f"exec: {ECHO}\nargs: [\"hello\"]\n"
                f"socket: {{ port: {port}, bind: 127.0.0.1, protocol: tcp, wait: false }}\n")
    dirs = ["--config-dir", conf, "--state-dir", state, "--log-dir", logs, "--no-color"]
    c.r.run([c.args.svc, *dirs, "start", *names])
    inetd = InetdDaemon("svc inetd", [c.args.svc, *dirs, "inetd"], port,
                        os.path.join(base, "inetd.out"))
    sock = os.path.join(state, "svc.sock")
    serve = None
    try:
        inetd.start()
        with open(os.path.join(base, "serve.out"), "ab") as out:
            serve = subprocess.Popen([c.args.svc, *dirs, "serve"], stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=out, start_new_session=True)
        wait_until(lambda: serve.poll() is None and os.path.exists(sock)
                   and unix_http(sock, "GET", "/metrics")[0] == 200, "svc serve to answer")
        # Both have served one request; then idle.
        time.sleep(0.5)
        inetd_rss, serve_rss = inetd.rss_kb(), vm_rss_kb(serve.pid)
        rounds = max(c.rounds, 50)
        rpc, scrape = Series("getAllProcessInfo"), Series("/metrics")
        for _ in range(rounds):
            t0 = time.perf_counter()
            code, body = unix_http(sock, "POST", "/RPC2", GET_ALL)
            rpc.add_time(time.perf_counter() - t0)
            if code != 200 or body.count(b"<name>statename</name>") != SERVE_SERVICES:
                raise BenchError(f"getAllProcessInfo answered {code}: {body[:300]!r}")
            t0 = time.perf_counter()
            code, body = unix_http(sock, "GET", "/metrics")
            scrape.add_time(time.perf_counter() - t0)
            if code != 200 or body.count(b"svc_service_up{") != SERVE_SERVICES + 1:
                raise BenchError(f"/metrics answered {code}: {body[:300]!r}")
        busy_rss = vm_rss_kb(serve.pid)
        c.report.row("serve getAllProcessInfo (20)", rpc)
        c.report.row("serve /metrics (21)", scrape)
        c.report.table("serve: resident memory (VmRSS, KiB)", [
            f"  svc inetd idle        {inetd_rss}",
            f"  svc serve idle        {serve_rss}",
            f"  svc serve after {2 * rounds} requests  {busy_rss}",
        ])
        if inetd_rss and serve_rss:
            c.report.goal("serve", "idle RSS within 1 MiB of svc inetd's",
                          f"{serve_rss} KiB vs {inetd_rss} KiB ({serve_rss - inetd_rss:+} KiB)",
                          serve_rss <= inetd_rss + 1024)
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(10)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
        inetd.stop()
        c.r.run([c.args.svc, *dirs, "stop", *names])


# ---------------------------------------------------------------------------------------------
# the access matcher: svc's compiled hosts_access matcher against libwrap's hosts_ctl

ACCESS_SIZES = (0, 200, 2000, 20000)  # address rules that do not match, before the one that does
ACCESS_ROUND_MS = 40      # each round of each side lasts about this long
ACCESS_GOAL_US = 5.0      # svc's decision at 2,000 rules
ACCESS_GOAL_X = 100.0     # ... at least this many times faster than libwrap's hosts_ctl
ACCESS_FLAT = 1.5         # flat: 20,000 rules within this factor of 0 rules
LIBWRAP = "libwrap.so.0"  # Debian's libwrap0


def access_driver(c):
    """bench/access_bench.rs (an example target), built with cargo in release mode like svc;
    SVC_ACCESS_BENCH=PATH uses that binary instead."""
    exe = os.environ.get("SVC_ACCESS_BENCH")
    if exe:
        return exe
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    target = target if os.path.isabs(target) else os.path.join(REPO, target)
    c.log("access: cargo build --release --example access_bench")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "access_bench"],
                   cwd=REPO, check=True, stdin=subprocess.DEVNULL)
    return os.path.join(target, "release", "examples", "access_bench")


class Libwrap:
    """libwrap's hosts_ctl(3) through ctypes. It reads the files named by its globals
    hosts_allow_table and hosts_deny_table (/etc's by default) at every call; they are pointed
    at the benchmark's files, as `tcpdmatch -d` does, so /etc is never touched."""

    def __init__(self):
        self.lib = ctypes.CDLL(LIBWRAP)
        self.ctl = self.lib.hosts_ctl
        self.ctl.argtypes = [ctypes.c_char_p] * 4
        self.ctl.restype = ctypes.c_int
        self.tables = (ctypes.c_char_p.in_dll(self.lib, "hosts_allow_table"),
                       ctypes.c_char_p.in_dll(self.lib, "hosts_deny_table"))
        self.paths = None

    def use(self, d):
        # The globals point into these bytes objects: keep them alive as long as they are used.
        self.paths = (os.path.join(d, "hosts.allow").encode(), os.path.join(d, "hosts.deny").encode())
        for table, path in zip(self.tables, self.paths):
            table.value = path

    def allowed(self, daemon, addr):
        return self.ctl(daemon.encode(), b"unknown", addr.encode(), b"unknown") == 1

    def per_call_us(self, daemon, addr, target_s):
        """Microseconds per hosts_ctl call, over calls lasting about target_s."""
        ctl, args = self.ctl, (daemon.encode(), b"unknown", addr.encode(), b"unknown")
        n, took = 1, 0.0
        while took < target_s / 4:
            n *= 2
            t0 = time.perf_counter()
            for _ in range(n):
                ctl(*args)
            took = time.perf_counter() - t0
        n = max(1, int(n * target_s / took))
        t0 = time.perf_counter()
        for _ in range(n):
            ctl(*args)
        return (time.perf_counter() - t0) / n * 1e6


def ctypes_overhead_us():
    """What a ctypes call of a C function that does nothing costs (getppid): part of libwrap's
    figure, not of its work."""
    f = ctypes.CDLL(None).getppid
    n = 200000
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n * 1e6


@bench("access", "one access decision (hosts.allow/hosts.deny) with 0 / 200 / 2,000 / 20,000 "
                 "address rules before the matching one: svc's compiled matcher (and its plain "
                 "walk) in-process vs libwrap's hosts_ctl")
def bench_access(c):
    driver = access_driver(c)
    try:
        lw = Libwrap()
    except (OSError, AttributeError) as e:
        lw = None
        c.report.notes.append(f"access: libwrap not measured ({LIBWRAP}: {e}; apt-get install "
                              "libwrap0): svc alone")
    rounds = max(3, min(c.rounds, 9))
    client, other = "127.0.0.1", "127.0.0.2"
    dirs, figs = {}, {}  # size -> rule directory; size -> {what: [us per decision, ...]}
    for n in ACCESS_SIZES:
        d = dirs[n] = os.path.join(c.tmp, f"access{n}")
        miss = os.path.join(c.tmp, f"access{n}-miss")  # the last rule names another client
        for path, last in ((d, client), (miss, other)):
            os.makedirs(path)
            allow, deny = rule_files("rules", last, n)
            for name, text in (("hosts.allow", allow), ("hosts.deny", deny)):
                with open(os.path.join(path, name), "w") as f:
                    f.write(text)
        if lw is not None:
            # libwrap must really read these files: granted by the last rule, denied without it.
            lw.use(miss)
            if lw.allowed(INETD_SERVICE, client):
                raise BenchError(f"access: libwrap granted {client} with {n} rules whose last "
                                 f"names {other}: is it reading {miss}?")
            lw.use(d)
            if not lw.allowed(INETD_SERVICE, client):
                raise BenchError(f"access: libwrap denied {client} with {n} rules ending with it")
        figs[n] = {"index": [], "walk": [], "libwrap": [], "load": []}
    # Every round measures every size, in a turning order, svc and libwrap alternating which
    # goes first: drift on a busy machine favours no size and no side.
    for i in range(rounds):
        c.log(f"access: round {i + 1} of {rounds}")
        k = i % len(ACCESS_SIZES)
        for n in ACCESS_SIZES[k:] + ACCESS_SIZES[:k]:
            f, want = figs[n], f"hosts.allow:{n + 1}"
            for side in (("svc", "libwrap") if i % 2 == 0 else ("libwrap", "svc")):
                if side == "libwrap":
                    if lw is not None:
                        lw.use(dirs[n])
                        f["libwrap"].append(lw.per_call_us(INETD_SERVICE, client,
                                                           ACCESS_ROUND_MS / 1000))
                    continue
                r = c.r.run([driver, dirs[n], INETD_SERVICE, client, str(ACCESS_ROUND_MS), "1"])
                out = json.loads(r.stdout)
                if not out["allowed"] or out["rule"] != want:
                    raise BenchError(f"access: svc decided {out['rule']} (allowed "
                                     f"{out['allowed']}), not {want}:\n{r.describe()}")
                f["index"] += [x / 1000 for x in out["index_ns"]]
                f["walk"] += [x / 1000 for x in out["walk_ns"]]
                f["load"].append(out["load_us"] / 1000)
    med = {n: {k: (statistics.median(v) if v else None) for k, v in f.items()}
           for n, f in figs.items()}

    def us(x):
        return f"{x:10.2f}" if x is not None else f"{'-':>10}"

    def times(a, b):
        return f"{a / b:9.0f}x" if a is not None and b else f"{'-':>10}"

    overhead = ctypes_overhead_us()
    lines = ["rules    svc index  svc walk   libwrap   libwrap/index  walk/index   svc load (ms)",
             "-" * 86]
    for n in ACCESS_SIZES:
        m = med[n]
        lines.append(f"{n:>6,} {us(m['index'])} {us(m['walk'])} {us(m['libwrap'])}    "
                     f"{times(m['libwrap'], m['index'])}  {times(m['walk'], m['index'])}   "
                     f"{m['load']:10.2f}")
    lines.append(f"(a ctypes call of a C function that does nothing, part of libwrap's figure: "
                 f"{overhead:.2f} us)")
    c.report.table(f"access: one decision, {INETD_SERVICE} from {client}: N address rules that do "
                   f"not match, then `{INETD_SERVICE} : {client}` (hosts.allow), hosts.deny "
                   f"`ALL : ALL`; microseconds per decision, medians of {rounds} rounds of "
                   f"~{ACCESS_ROUND_MS} ms each (svc in-process: bench/access_bench.rs; svc walk = "
                   "the matcher before the index; libwrap hosts_ctl via ctypes, re-reading the "
                   "files per call as it does)", lines)
    at = med[2000]
    c.report.goal("access", f"svc decision <= {ACCESS_GOAL_US:g} us with 2,000 rules",
                  f"{at['index']:.2f} us (walk {at['walk']:.2f} us)",
                  at["index"] <= ACCESS_GOAL_US,
                  "the compiled matcher still costs more than the goal per decision")
    lo, hi = med[ACCESS_SIZES[0]]["index"], med[ACCESS_SIZES[-1]]["index"]
    each = ", ".join(f"{n:,}: {med[n]['index']:.2f}" for n in ACCESS_SIZES)
    c.report.goal("access", f"flat in the number of address rules: {ACCESS_SIZES[-1]:,} rules "
                  f"within {ACCESS_FLAT:g}x of {ACCESS_SIZES[0]}", f"{hi / lo:.2f}x ({each} us)",
                  hi <= ACCESS_FLAT * lo, "the decision time grows with the number of rules")
    if at["libwrap"] is not None:
        c.report.goal("access", f">= {ACCESS_GOAL_X:g}x libwrap's hosts_ctl with 2,000 rules",
                      f"{at['libwrap'] / at['index']:.0f}x ({at['libwrap']:.1f} against "
                      f"{at['index']:.2f} us)", at["libwrap"] >= ACCESS_GOAL_X * at["index"],
                      "libwrap's figure is not 100x svc's decision")
    else:
        c.report.goal("access", f">= {ACCESS_GOAL_X:g}x libwrap's hosts_ctl with 2,000 rules",
                      "libwrap not measured", False, f"{LIBWRAP} missing (apt-get install libwrap0)")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--contain-agent":
        return contain_agent(sys.argv[2])
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
    ap.add_argument("--scale", type=int, default=1000, metavar="N",
                    help="services of the scale benchmark (default 1000; the goals are for 10000)")
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
