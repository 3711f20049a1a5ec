#!/usr/bin/python
# -*- coding: utf-8 -*-
#
# An Ansible module that drives svc, the SysV init-script style service manager.
# Python 3, standard library and ansible.module_utils only, so that it runs on any host with
# a Python interpreter: copy it into a playbook's library/ directory or point
# ANSIBLE_LIBRARY (or `library =` in ansible.cfg) at packaging/ansible/library.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: svc_service
short_description: Manage services run by svc, the SysV init-script style service manager
description:
  - Starts, stops, restarts and reloads services defined in svc's C(init.d/NAME.yaml), and
    enables or disables them in runlevels (the S/K links in C(runlevels/rcN.d)).
  - Idempotent. The module reads C(svc status --json NAME) and C(svc list --json NAME) first
    and runs C(svc start), C(svc stop), C(svc enable) or C(svc disable) only when the service
    is not already in the requested state; it reports C(changed) only when it changed
    something. C(restarted) and C(reloaded) always act, like M(ansible.builtin.service).
  - Supports check mode, reporting what would change without changing anything.
  - When svc fails, the task fails with svc's exit code (an LSB code, for example C(5) for a
    missing program, C(3) for a reload without C(reload_signal)) and its error output.
version_added: "0.1.0"
author:
  - svc developers
options:
  name:
    description:
      - Name of the service, as in C(init.d/NAME.yaml).
    type: str
    required: true
  state:
    description:
      - C(started) and C(stopped) act only when needed. C(started) starts a service that is
        not C(running), C(starting) or C(done) (a C(dead) or C(failed) one too); C(stopped)
        stops one that is C(running), C(starting) or C(done) (a one-shot task) and leaves
        C(stopped), C(dead) and C(failed) alone.
      - C(restarted) always runs C(svc restart) (which also starts a stopped service).
      - C(reloaded) always runs C(svc reload) on a running service; a service that is not
        running is started instead, as M(ansible.builtin.service) does. A service without
        C(reload_signal) makes the reload fail with exit code 3.
      - Without I(state) the run state is left alone.
    type: str
    choices: [started, stopped, restarted, reloaded]
  enabled:
    description:
      - C(true) makes sure the service starts in some runlevel (or exactly in I(runlevels) when
        given), running C(svc enable) when it does not.
      - C(false) removes every S and K link of the service (C(svc disable)) when there is one.
      - Without I(enabled) the links are left alone.
    type: bool
  runlevels:
    description:
      - The runlevels that start the service, used with I(enabled=true), as a list
        (C([2, 3, 4, 5])) or a string (C("2345")). Characters C(0)-C(6) and C(S).
      - When the service starts in other runlevels than these, C(svc enable --levels) replaces
        its links (S links in these levels, K links in the others).
      - Without it, a service that starts in any runlevel counts as enabled; one that does not
        is enabled in the definition's default C(runlevels) (else 2345).
      - Ignored, with a warning, unless I(enabled=true).
    type: raw
  svc:
    description:
      - Path of the svc binary, or a command name looked up in C(PATH).
    type: str
    default: svc
  config_dir:
    description:
      - Configuration directory, passed as C(--config-dir). Default is svc's own
        (C(/etc/svc) as root, C(SVC_CONFIG_DIR) in the environment).
    type: path
  state_dir:
    description:
      - Runtime state directory, passed as C(--state-dir).
    type: path
  log_dir:
    description:
      - Log directory, passed as C(--log-dir).
    type: path
notes:
  - Supports check mode.
  - Requires svc on the managed host; I(svc) names it when it is not in C(PATH).
requirements:
  - svc
"""

EXAMPLES = r"""
- name: Start httpd and start it at boot in runlevels 2-5
  svc_service:
    name: httpd
    state: started
    enabled: true
    runlevels: "2345"

- name: Stop the ticker and remove its runlevel links
  svc_service:
    name: ticker
    state: stopped
    enabled: false

- name: Reload httpd after a configuration change (svc sends its reload_signal)
  svc_service:
    name: httpd
    state: reloaded

- name: Drive a configuration outside /etc/svc, with an svc binary outside PATH
  svc_service:
    name: httpd
    state: restarted
    svc: /opt/svc/bin/svc
    config_dir: /srv/svc
    state_dir: /run/svc-srv
    log_dir: /var/log/svc-srv
"""

RETURN = r"""
name:
  description: Name of the service.
  returned: always
  type: str
  sample: httpd
state:
  description:
    - The service's state as C(svc status --json) reports it after the task (C(running),
      C(stopped), C(dead), C(failed) or C(starting)).
    - In check mode, the state the service would be in.
  returned: always
  type: str
  sample: running
enabled:
  description: Whether the service starts in at least one runlevel (after the task).
  returned: always
  type: bool
  sample: true
runlevels:
  description: The runlevels that start the service (after the task), in order.
  returned: always
  type: list
  elements: str
  sample: ["2", "3", "4", "5"]
pid:
  description: PID of the running service, or null when it does not run. In check mode, null
    also when the task would start or restart it (the new PID is not known yet).
  returned: always
  type: int
  sample: 4242
actions:
  description: The svc commands the task ran (or, in check mode, would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["enable", "start"]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

LEVELS = "0123456S"
# States in which the service counts as up: `starting` is a start in progress or a supervised
# service between two respawns; `done` is a one-shot task that ran to completion in this boot.
# `svc stop` stops it, `svc start` would do nothing.
UP = ("running", "starting", "done")


class Svc(object):
    """Runs svc with the module's directories and parses its JSON."""

    def __init__(self, module, binary):
        self.module = module
        self.binary = binary
        self.base = [binary, "--no-color"]
        for opt, key in (
            ("--config-dir", "config_dir"),
            ("--state-dir", "state_dir"),
            ("--log-dir", "log_dir"),
        ):
            if module.params[key] is not None:
                self.base += [opt, module.params[key]]

    def run(self, args):
        cmd = self.base + args
        rc, out, err = self.module.run_command(cmd, environ_update={"NO_COLOR": "1"})
        return cmd, rc, out, err

    def fail(self, what, cmd, rc, out, err):
        detail = err.strip() or out.strip() or "no output"
        self.module.fail_json(
            msg="%s failed (svc exit code %d): %s" % (what, rc, detail),
            cmd=" ".join(cmd),
            rc=rc,
            stdout=out,
            stderr=err,
        )

    def json_one(self, args, name):
        """The object for NAME in the JSON array that `svc ARGS --json NAME` prints. `status`
        exits 3 for a stopped service and 1 for a dead one, so the exit code alone is no
        error: only an array without the service is."""
        cmd, rc, out, err = self.run(args + ["--json", name])
        try:
            rows = json.loads(out)
        except ValueError:
            rows = None
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, dict) and row.get("name") == name:
                    return row
        self.fail("svc %s %s" % (" ".join(args), name), cmd, rc, out, err)

    def status(self, name):
        return self.json_one(["status"], name)

    def links(self, name):
        return self.json_one(["list"], name)

    def act(self, verb, name, extra=None):
        args = [verb] + (extra or []) + [name]
        cmd, rc, out, err = self.run(args)
        if rc != 0:
            self.fail("svc %s" % " ".join(args), cmd, rc, out, err)


def parse_runlevels(module, value):
    """`"2345"`, `"2,3,4,5"`, `[2, 3, 4, 5]` or `["2", "S"]` -> "2345" (svc's order)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [str(v).strip() for v in value]
    else:
        parts = list(str(value).replace(",", "").replace(" ", ""))
    chars = []
    for p in parts:
        p = p.upper() if p in ("s", "S") else p
        if len(p) != 1 or p not in LEVELS:
            module.fail_json(
                msg="runlevels: %r is not a runlevel (expected 0-6 or S, e.g. \"2345\" or "
                "[2, 3, 4, 5]), got %r" % (p, value)
            )
        if p not in chars:
            chars.append(p)
    if not chars:
        module.fail_json(msg="runlevels: expected runlevels such as \"2345\", got %r" % (value,))
    return "".join(sorted(chars, key=LEVELS.index))


def on_levels(links):
    """The runlevels that start the service, from one `svc list --json` object."""
    levels = links.get("levels") or {}
    return "".join(l for l in LEVELS if levels.get(l) == "on")


def has_links(links):
    return bool(links.get("start")) or bool(links.get("stop")) or bool(on_levels(links))


def find_svc(module, name):
    if os.sep in name:
        if not (os.path.isfile(name) and os.access(name, os.X_OK)):
            module.fail_json(msg="svc: %s is not an executable file" % name)
        return name
    path = module.get_bin_path(name)
    if path is None:
        module.fail_json(
            msg="svc: %r not found in PATH (%s); set the svc option to its path"
            % (name, os.environ.get("PATH", ""))
        )
    return path


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["started", "stopped", "restarted", "reloaded"]),
            enabled=dict(type="bool"),
            runlevels=dict(type="raw"),
            svc=dict(type="str", default="svc"),
            config_dir=dict(type="path"),
            state_dir=dict(type="path"),
            log_dir=dict(type="path"),
        ),
        required_one_of=[["state", "enabled"]],
        supports_check_mode=True,
    )
    p = module.params
    name = p["name"]
    wanted_levels = parse_runlevels(module, p["runlevels"])
    if wanted_levels is not None and p["enabled"] is not True:
        # As ansible.builtin.sysvinit does: one task template may carry runlevels for both
        # cases, so this is a warning, not an error.
        module.warn("runlevels is only used with enabled: true; ignored")
        wanted_levels = None

    svc = Svc(module, find_svc(module, p["svc"]))
    status = svc.status(name)
    links = svc.links(name)
    current = on_levels(links)
    actions = []

    # Runlevel links first, then the run state (as ansible.builtin.service does).
    if p["enabled"] is True:
        if wanted_levels is not None and current != wanted_levels:
            actions.append(("enable", ["--levels", wanted_levels]))
        elif wanted_levels is None and not current:
            actions.append(("enable", []))
    elif p["enabled"] is False and has_links(links):
        actions.append(("disable", []))

    up = status.get("state") in UP
    state = p["state"]
    if state == "started" and not up:
        actions.append(("start", []))
    elif state == "stopped" and up:
        actions.append(("stop", []))
    elif state == "restarted":
        actions.append(("restart", []))
    elif state == "reloaded":
        actions.append(("reload" if up else "start", []))

    if module.check_mode:
        final_state, pid = status.get("state"), status.get("pid")
        levels = current
        for verb, extra in actions:
            if verb in ("start", "restart"):
                # A new process: its PID is not known before it runs.
                final_state, pid = "running", None
            elif verb == "stop":
                final_state, pid = "stopped", None
            elif verb == "enable":
                # Without --levels svc picks the definition's defaults; unknown here.
                levels = extra[1] if extra else current
            elif verb == "disable":
                levels = ""
    else:
        for verb, extra in actions:
            svc.act(verb, name, extra)
        if actions:
            status = svc.status(name)
            links = svc.links(name)
        final_state, pid = status.get("state"), status.get("pid")
        levels = on_levels(links)

    module.exit_json(
        changed=bool(actions),
        name=name,
        state=final_state,
        enabled=bool(levels) or (module.check_mode and any(v == "enable" for v, _ in actions)),
        runlevels=list(levels),
        pid=pid,
        actions=[v for v, _ in actions],
    )


if __name__ == "__main__":
    main()
