#!/usr/bin/env python3
"""A private SysV tree of generated LSB scripts with a realistic dependency web (issue 14).

Used by bench.py's `sysv200` benchmark and by tests/integration/sysv_insserv.rs (the
differential test against Debian's insserv and startpar), so both judge the same trees.

    python3 bench/sysv_tree.py [--seed N] [--count N] [--log FILE] [--state DIR] DIR

writes DIR/init.d/NAME (mode 0755), DIR/insserv.conf, empty DIR/rc{0..6,S}.d and
DIR/overrides, and prints the script names, one a line. Deterministic for a seed.

The tree: boot scripts in S (mountall, mountnfs, hwclock, networking) that provide the
facilities $local_fs $remote_fs $time $network through insserv.conf, runlevel providers of
$syslog (rsyslog), $portmap (rpcbind, `Provides: rpcbind portmap`) and $named (bind9,
`Provides: bind9 named`), then COUNT generated scripts svcNNN (some with a `Provides` alias
aliasNNN), each with `Required-Start` on facilities and on up to two earlier scripts (by name
or alias; only scripts started in every level it starts in), `Should-Start` on an earlier
script and sometimes on an absent one, sometimes `X-Start-Before` a later script, stop
dependencies mirroring the start ones, `Default-Start` 2 3 4 5 (most), 2 3 5 or 3 4 5,
`Default-Stop` 0 1 6 or empty; and one `$all` script (zlast). A script's `start` and `stop`
append "start NAME" / "stop NAME" to FILE (no --log: nothing) and exit 0; with --state, start
creates DIR/NAME.on, stop removes it and status is 0 while it exists (without: status 3).
"""

import argparse
import os
import random

FACILITIES = ["$local_fs", "$remote_fs", "$network", "$syslog", "$time", "$named", "$portmap"]
INSSERV_CONF = """\
# A private insserv.conf: the facilities of Debian's, provided by the tree's own scripts.
$local_fs       +mountall
$remote_fs      $local_fs +mountnfs
$network        +networking
$syslog         +rsyslog
$named          +bind9 $network
$portmap        +rpcbind
$time           +hwclock
"""
ALL_LEVELS = "2 3 4 5"


def script_text(name, header, log, state):
    lines = "".join(f"# {k}: {v}\n" for k, v in header)
    rec = f'echo "$1 {name}" >> {log}' if log else ":"
    on = f"{state}/{name}.on"
    start, stop, status = ((f"touch {on}", f"rm -f {on}", f"[ -f {on} ] && exit 0; exit 3")
                           if state else (":", ":", "exit 3"))
    return (f"#!/bin/sh\n### BEGIN INIT INFO\n{lines}### END INIT INFO\n"
            f"case \"$1\" in\n"
            f"  start) {rec}; {start} ;;\n"
            f"  stop) {rec}; {stop} ;;\n"
            f"  status) {status} ;;\n"
            f"  restart|force-reload|reload) exit 0 ;;\n"
            f"  *) exit 3 ;;\n"
            f"esac\nexit 0\n")


def generate(seed, count):
    """[(name, [(keyword, value)])] of the tree (see the module docs)."""
    rnd = random.Random(seed)
    fixed = [
        ("mountall", [("Provides", "mountall"), ("Required-Start", ""), ("Required-Stop", ""),
                      ("Default-Start", "S"), ("Default-Stop", "")]),
        ("hwclock", [("Provides", "hwclock"), ("Required-Start", "mountall"),
                     ("Required-Stop", ""), ("Default-Start", "S"), ("Default-Stop", "")]),
        ("networking", [("Provides", "networking"), ("Required-Start", "mountall"),
                        ("Required-Stop", ""), ("Default-Start", "S"), ("Default-Stop", "")]),
        ("mountnfs", [("Provides", "mountnfs"), ("Required-Start", "$local_fs $network"),
                      ("Required-Stop", ""), ("Default-Start", "S"), ("Default-Stop", "")]),
        ("rsyslog", [("Provides", "rsyslog"), ("Required-Start", "$remote_fs $time"),
                     ("Required-Stop", "$remote_fs $time"), ("Default-Start", ALL_LEVELS),
                     ("Default-Stop", "0 1 6")]),
        ("rpcbind", [("Provides", "rpcbind portmap"), ("Required-Start", "$network $local_fs"),
                     ("Required-Stop", "$network $local_fs"), ("Should-Start", "$syslog"),
                     ("Default-Start", ALL_LEVELS), ("Default-Stop", "0 1 6")]),
        ("bind9", [("Provides", "bind9 named"), ("Required-Start", "$remote_fs"),
                   ("Required-Stop", "$remote_fs"), ("Should-Start", "$network $syslog"),
                   ("Default-Start", ALL_LEVELS), ("Default-Stop", "0 1 6")]),
    ]
    # (name, alias or None, start levels)
    made = [("rsyslog", None, set(ALL_LEVELS.split())), ("rpcbind", "portmap",
            set(ALL_LEVELS.split())), ("bind9", "named", set(ALL_LEVELS.split()))]
    out = list(fixed)
    names = [f"svc{i:03d}" for i in range(count)]
    start_before = {}
    for i, name in enumerate(names):
        roll = rnd.random()
        levels = ALL_LEVELS if roll < 0.8 else ("2 3 5" if roll < 0.9 else "3 4 5")
        lv = set(levels.split())
        alias = f"alias{i:03d}" if rnd.random() < 0.2 else None
        fac = rnd.sample(FACILITIES, rnd.randint(0, 3))
        fits = [m for m in made if lv <= m[2]]
        req = []
        for m in rnd.sample(fits, min(len(fits), rnd.randint(0, 2))):
            req.append(m[1] if m[1] and rnd.random() < 0.5 else m[0])
        should = []
        if fits and rnd.random() < 0.3:
            should.append(rnd.choice(fits)[0])
        if rnd.random() < 0.15:
            should.append(f"absent{rnd.randint(0, 9)}")
        header = [("Provides", name + (f" {alias}" if alias else "")),
                  ("Required-Start", " ".join(fac + req)),
                  ("Required-Stop", " ".join(fac + req))]
        if should:
            header.append(("Should-Start", " ".join(should)))
            header.append(("Should-Stop", " ".join(should)))
        later = [n for n in names[i + 1:]]
        if later and rnd.random() < 0.1:
            start_before[name] = rnd.choice(later)
        header.append(("Default-Start", levels))
        header.append(("Default-Stop", "0 1 6" if rnd.random() < 0.9 else ""))
        header.append(("Short-Description", f"generated script {i}"))
        out.append((name, header))
        made.append((name, alias, lv))
    # X-Start-Before only towards a later script that starts in every level this one does.
    levels_of = {n: set(dict(h)["Default-Start"].split()) for n, h in out}
    for name, header in out:
        target = start_before.get(name)
        if target and levels_of[target] <= levels_of[name]:
            header.insert(3, ("X-Start-Before", target))
    out.append(("zlast", [("Provides", "zlast"), ("Required-Start", "$all"),
                          ("Required-Stop", ""), ("Default-Start", ALL_LEVELS),
                          ("Default-Stop", "")]))
    return out


def write(root, tree, log, state=""):
    init_d = os.path.join(root, "init.d")
    os.makedirs(init_d, exist_ok=True)
    for d in [f"rc{l}.d" for l in "0123456S"] + ["overrides"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "insserv.conf"), "w") as f:
        f.write(INSSERV_CONF)
    for name, header in tree:
        p = os.path.join(init_d, name)
        with open(p, "w") as f:
            f.write(script_text(name, header, log, state))
        os.chmod(p, 0o755)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--log", default="")
    ap.add_argument("--state", default="")
    ap.add_argument("dir")
    a = ap.parse_args()
    tree = generate(a.seed, a.count)
    write(a.dir, tree, a.log, a.state)
    for name, _ in tree:
        print(name)


if __name__ == "__main__":
    main()
