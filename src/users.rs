//! Strict user and group resolution (docs/security.md, "The process a service gets").
//!
//! A user or group is either a plain decimal id (taken as given) or a name that exists in the
//! user database, written exactly. Anything else — empty, `0day`, ` 0`, `0x0`, `root ` — is an
//! error, never a fallback to root. Resolution happens before anything is launched, so the
//! child only makes plain syscalls with numbers prepared here.

use nix::unistd::{Gid, Group, Uid, User};

/// How a definition names a user or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSpec {
    Name(String),
    Id(u32),
}

impl std::fmt::Display for IdSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdSpec::Name(n) => f.write_str(n),
            IdSpec::Id(i) => write!(f, "{i}"),
        }
    }
}

/// What a launch switches to: uid, primary gid, supplementary groups, and the user's home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: Option<std::path::PathBuf>,
    pub user_name: Option<String>,
}

/// Parses the text of a `user:` or `group:` value. Decimal ids must have no sign, no leading
/// zero (except `0` itself), no spaces and fit below 2^32-1 (which means "no id" to the kernel).
pub fn parse_spec(s: &str) -> Result<IdSpec, String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        if s.len() > 1 && s.starts_with('0') {
            return Err(format!("{s:?} has a leading zero"));
        }
        return match s.parse::<u32>() {
            Ok(n) if n != u32::MAX => Ok(IdSpec::Id(n)),
            _ => Err(format!("{s:?} is out of range")),
        };
    }
    let b = s.as_bytes();
    let first_ok = b[0].is_ascii_alphabetic() || b[0] == b'_';
    let rest_ok = b[1..].iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric()
            || matches!(c, b'_' | b'.' | b'-')
            || (c == b'$' && i == b.len() - 2)
    });
    if !first_ok || !rest_ok || b.len() > 32 {
        return Err(format!(
            "{s:?} is neither a decimal id nor a valid name (letters, digits, '_', '.', '-', starting with a letter or '_')"
        ));
    }
    Ok(IdSpec::Name(s.to_owned()))
}

/// Resolves a user (and optional group) exactly. A numeric user without a passwd entry needs an
/// explicit group. Supplementary groups are the user's groups from the group database when the
/// user is known, else none.
pub fn resolve(
    user: Option<&IdSpec>,
    group: Option<&IdSpec>,
) -> Result<Option<Credentials>, String> {
    let (uid, pw) = match user {
        None => {
            if group.is_none() {
                return Ok(None);
            }
            let uid = nix::unistd::geteuid().as_raw();
            (uid, User::from_uid(Uid::from_raw(uid)).ok().flatten())
        }
        Some(IdSpec::Id(n)) => (*n, User::from_uid(Uid::from_raw(*n)).ok().flatten()),
        Some(IdSpec::Name(n)) => match User::from_name(n) {
            Ok(Some(u)) => (u.uid.as_raw(), Some(u)),
            Ok(None) => return Err(format!("user {n:?} does not exist")),
            Err(e) => return Err(format!("cannot look up user {n:?}: {e}")),
        },
    };
    let gid = match group {
        Some(IdSpec::Id(g)) => *g,
        Some(IdSpec::Name(n)) => match Group::from_name(n) {
            Ok(Some(g)) => g.gid.as_raw(),
            Ok(None) => return Err(format!("group {n:?} does not exist")),
            Err(e) => return Err(format!("cannot look up group {n:?}: {e}")),
        },
        None => match (&pw, user) {
            (Some(p), _) => p.gid.as_raw(),
            (None, Some(u)) => {
                return Err(format!(
                "user {u} has no passwd entry, so it has no primary group: give `group` explicitly"
            ))
            }
            (None, None) => nix::unistd::getegid().as_raw(),
        },
    };
    let mut groups = vec![gid];
    if let Some(p) = &pw {
        if let Ok(cname) = std::ffi::CString::new(p.name.clone()) {
            if let Ok(list) = nix::unistd::getgrouplist(&cname, Gid::from_raw(gid)) {
                groups = list.into_iter().map(|g| g.as_raw()).collect();
            }
        }
    }
    groups.sort_unstable();
    groups.dedup();
    Ok(Some(Credentials {
        uid,
        gid,
        groups,
        home: pw.as_ref().map(|p| p.dir.clone()),
        user_name: pw.as_ref().map(|p| p.name.clone()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_specs() {
        for (text, spec) in [
            ("0", IdSpec::Id(0)),
            ("1000", IdSpec::Id(1000)),
            ("www-data", IdSpec::Name("www-data".into())),
            ("machine$", IdSpec::Name("machine$".into())),
        ] {
            assert_eq!(parse_spec(text).unwrap(), spec);
        }
        for bad in [
            "",
            "0day",
            " 0",
            "0 ",
            "0x0",
            "root ",
            "-1",
            "+1",
            "00",
            "4294967295",
            "99999999999",
            "a b",
            "a$b",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_names_never_resolve() {
        let u = IdSpec::Name("no-such-user-svc-test".into());
        assert!(resolve(Some(&u), None).is_err());
        let g = IdSpec::Name("no-such-group-svc-test".into());
        assert!(resolve(None, Some(&g)).is_err());
    }

    #[test]
    fn numeric_user_without_entry_needs_group() {
        let u = IdSpec::Id(3_999_999_999);
        assert!(resolve(Some(&u), None).is_err());
        let c = resolve(Some(&u), Some(&IdSpec::Id(3_999_999_999)))
            .unwrap()
            .unwrap();
        assert_eq!((c.uid, c.gid), (3_999_999_999, 3_999_999_999));
    }

    #[test]
    fn root_resolves() {
        let c = resolve(Some(&IdSpec::Name("root".into())), None)
            .unwrap()
            .unwrap();
        assert_eq!((c.uid, c.gid), (0, 0));
    }
}
