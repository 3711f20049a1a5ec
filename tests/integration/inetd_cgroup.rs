//! The super daemon's cgroups (SPEC §8.7, docs/inetd.md): its servers run in their service's
//! cgroup, and the cgroup goes when nothing can use it any more — at shutdown, and when a
//! service that SIGHUP removed has no server left.

use crate::inetd::{cat_service, connect_from, echo, Inetd};
use crate::util::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A service removed by SIGHUP keeps its running server, in its cgroup; when that server
/// exits, the cgroup is removed (before, it stayed until the machine rebooted).
#[test]
fn a_removed_services_cgroup_goes_with_its_last_server() {
    if skip_without_containment("a_removed_services_cgroup_goes_with_its_last_server") {
        return;
    }
    let sb = Sandbox::new();
    let (kept, gone) = (free_port(), free_port());
    cat_service(&sb, "kept", kept, "");
    cat_service(&sb, "leaving", gone, "");
    let d = Inetd::start(&sb);
    let mut held = connect_from("127.0.0.1", gone);
    echo(&mut held, "served");
    let dir = service_cgroup_dir(&sb, "leaving").expect("containment is on");
    assert!(dir.exists(), "{} was never made", dir.display());

    std::fs::remove_file(sb.config.join("init.d/leaving.yaml")).unwrap();
    d.reload();
    assert!(
        d.errors().contains("leaving: no longer served"),
        "{}",
        d.errors()
    );
    // Its server still runs there: the cgroup stays while it does.
    echo(&mut held, "still served");
    assert!(dir.exists(), "{} removed under its server", dir.display());

    // The client leaves, cat exits, svc inetd reaps it: the cgroup goes.
    drop(held);
    wait_until(T, "the removed service's cgroup to go", || !dir.exists());
    // The service still served keeps working.
    echo(&mut connect_from("127.0.0.1", kept), "kept");
}

/// A service removed and added again before its last server exits keeps its cgroup: the
/// servers of its new definition run there, and it is not removed when they are all gone.
#[test]
fn a_service_served_again_keeps_its_cgroup() {
    if skip_without_containment("a_service_served_again_keeps_its_cgroup") {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port();
    cat_service(&sb, "back", port, "");
    let d = Inetd::start(&sb);
    let mut first = connect_from("127.0.0.1", port);
    echo(&mut first, "one");
    let dir = service_cgroup_dir(&sb, "back").expect("containment is on");
    let def = sb.config.join("init.d/back.yaml");
    let text = std::fs::read_to_string(&def).unwrap();
    std::fs::remove_file(&def).unwrap();
    d.reload();
    std::fs::write(&def, text).unwrap();
    d.reload();
    let mut second = connect_from("127.0.0.1", port);
    echo(&mut second, "two");
    // Every server exits and is reaped: the cgroup of a served service stays.
    drop(first);
    drop(second);
    wait_until(T, "both servers reaped", || d.children().is_empty());
    assert!(dir.exists(), "{} removed while served", dir.display());
    let mut third = connect_from("127.0.0.1", port);
    echo(&mut third, "three");
    assert_eq!(
        cgroup_procs(&dir).len(),
        1,
        "the third server is not in {}",
        dir.display()
    );
}
