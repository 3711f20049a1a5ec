//! `serve:` in svc.yaml (SPEC §10): `listen` (`HOST:PORT`, TCP besides the UNIX socket),
//! `username` and `password`, the password only as a hash — `{SHA}` + 40 hex digits
//! (supervisord's form) or `{SHA256}` + 64. A plain-text password is a problem, and no message
//! ever repeats what was written there.

use super::sections::parse_host_port;
use super::Validator;
use crate::definition::model::{PasswordHash, ServeSettings};
use crate::definition::yaml::Node;

const EXPECTED: &str = "expected listen, username or password";

/// What to write instead of a plain-text password.
const HASH_HINT: &str = "give its hash: `{SHA}` + 40 hex digits (`printf %s PASSWORD | sha1sum`) \
                         or `{SHA256}` + 64 hex digits (`printf %s PASSWORD | sha256sum`)";

impl Validator<'_> {
    /// The `serve:` mapping.
    pub(super) fn serve(&mut self, n: &Node) -> ServeSettings {
        let mut out = ServeSettings::default();
        let Some(entries) = self.mapping("serve", "a mapping of listen, username, password", n)
        else {
            return out;
        };
        for e in entries {
            let path = ["serve", e.key.as_str()];
            match e.key.as_str() {
                "listen" => {
                    let Some(s) = self.string(&path, &e.value) else {
                        continue;
                    };
                    match parse_host_port(&s) {
                        Some(_) => out.listen = Some(s),
                        None => self.problem(
                            &path,
                            format!(
                                "`serve.listen`: `{s}` is not HOST:PORT (a port from 1 to 65535; \
                                 [ADDR]:PORT for IPv6)"
                            ),
                        ),
                    }
                }
                "username" => {
                    let Some(s) = self.nonempty(&path, &e.value) else {
                        continue;
                    };
                    if s.contains(':') || s.chars().any(char::is_control) {
                        self.problem(
                            &path,
                            "`serve.username`: expected a name without `:` or control characters",
                        );
                    } else {
                        out.username = Some(s);
                    }
                }
                "password" => match &e.value {
                    Node::Str(s) => match password_hash(s) {
                        Ok(h) => out.password = Some(h),
                        Err(why) => self.problem(&path, format!("`serve.password`: {why}")),
                    },
                    // Never echo it: a number here is a plain-text password too.
                    Node::Int(_) | Node::Float(_) | Node::Bool(_) => self.problem(
                        &path,
                        format!("`serve.password`: a plain-text password is refused; {HASH_HINT}"),
                    ),
                    other => self.expected(&path, "a string", other),
                },
                other => self.problem(&path, format!("unknown key `serve.{other}`; {EXPECTED}")),
            }
        }
        let given = |k: &str| entries.iter().any(|e| e.key == k);
        match (given("username"), given("password")) {
            (true, false) => self.problem(
                &["serve", "username"],
                "`serve.username` is given without `serve.password`",
            ),
            (false, true) => self.problem(
                &["serve", "password"],
                "`serve.password` is given without `serve.username`",
            ),
            _ => {}
        }
        out
    }
}

/// `{SHA}HEX` or `{SHA256}HEX` as digest bytes; anything else is refused without repeating it.
pub fn password_hash(s: &str) -> Result<PasswordHash, String> {
    if let Some(hex) = s.strip_prefix("{SHA256}") {
        return digest::<32>(hex)
            .map(PasswordHash::Sha256)
            .ok_or_else(|| "expected 64 hex digits (a SHA-256 digest) after `{SHA256}`".into());
    }
    if let Some(hex) = s.strip_prefix("{SHA}") {
        return digest::<20>(hex)
            .map(PasswordHash::Sha1)
            .ok_or_else(|| "expected 40 hex digits (a SHA-1 digest) after `{SHA}`".into());
    }
    Err(format!("a plain-text password is refused; {HASH_HINT}"))
}

/// Exactly `2 * N` hex digits as `N` bytes.
fn digest<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let b = hex.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::definition::validate::settings;

    const SHA1_SECRET: &str = "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";

    #[test]
    fn hashed_passwords_are_read_as_digests() {
        let h = password_hash(&format!("{{SHA}}{SHA1_SECRET}")).unwrap();
        let PasswordHash::Sha1(d) = h else {
            panic!("{h:?}")
        };
        assert_eq!(d[0], 0xe5);
        assert_eq!(d[19], 0xf4);
        let upper = format!("{{SHA256}}{}", "AB".repeat(32));
        assert_eq!(
            password_hash(&upper).unwrap(),
            PasswordHash::Sha256([0xab; 32])
        );
    }

    #[test]
    fn a_plain_or_malformed_password_is_refused_without_being_repeated() {
        for bad in [
            "secret",
            "{SHA}abc",
            "{SHA256}zz",
            "{sha}e5e9",
            "{SHA} secret",
        ] {
            let why = password_hash(bad).unwrap_err();
            assert!(!why.contains("secret") && !why.contains("e5e9"), "{why}");
        }
    }

    #[test]
    fn serve_settings_are_read_with_lines_for_every_problem() {
        let text = format!(
            "serve:\n  listen: \"127.0.0.1:9001\"\n  username: admin\n  password: \"{{SHA}}{SHA1_SECRET}\"\n"
        );
        let s = settings(Path::new("svc.yaml"), &text).unwrap();
        assert_eq!(s.serve.listen.as_deref(), Some("127.0.0.1:9001"));
        assert_eq!(s.serve.username.as_deref(), Some("admin"));
        assert!(matches!(s.serve.password, Some(PasswordHash::Sha1(_))));

        let text =
            "default_runlevel: 3\nserve:\n  listen: nowhere\n  user: admin\n  password: hunter2\n";
        let problems = settings(Path::new("/etc/svc/svc.yaml"), text).unwrap_err();
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let line = |l: usize| problems.iter().any(|p| p.line == Some(l));
        assert!(line(3) && line(4) && line(5), "{shown:?}");
        assert!(shown.iter().any(|p| p.contains("plain-text")), "{shown:?}");
        assert!(shown.iter().any(|p| p.contains("serve.user")), "{shown:?}");
        assert!(shown.iter().all(|p| !p.contains("hunter2")), "{shown:?}");
    }

    #[test]
    fn a_number_as_password_is_plain_text_too() {
        let problems = settings(
            Path::new("svc.yaml"),
            "serve:\n  username: a\n  password: 123456\n",
        )
        .unwrap_err();
        assert!(problems[0].message.contains("plain-text"), "{problems:?}");
        assert!(!problems[0].message.contains("123456"), "{problems:?}");
    }
}
