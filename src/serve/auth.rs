//! HTTP basic authentication against `serve.username` and a hashed `serve.password`
//! (`{SHA}` + hex SHA-1, supervisord's form, or `{SHA256}` + hex).
//!
//! The `Authorization` header is decoded here (with [`super::base64`]),
//! the password hashed with the configured algorithm, and user name and digest compared in
//! constant time, so a wrong guess takes as long as a near one. Nothing here logs or keeps
//! what a client sent.

use sha1::Digest;

use crate::definition::PasswordHash;

/// The credentials TCP clients must give.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: PasswordHash,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Whether an `Authorization` header value (`Basic BASE64(user:password)`) matches.
    pub fn admit(&self, header: Option<&[u8]>) -> bool {
        let Some((user, password)) = header.and_then(basic) else {
            return false;
        };
        let user_ok = same(user.as_bytes(), self.username.as_bytes());
        let password_ok = match &self.password {
            PasswordHash::Sha1(want) => same(&sha1::Sha1::digest(password.as_bytes()), want),
            PasswordHash::Sha256(want) => same(&sha2::Sha256::digest(password.as_bytes()), want),
        };
        user_ok & password_ok
    }
}

/// The user name and password of a `Basic` header value; `None` for anything else.
fn basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(super::base64::decode(token.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Equality in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::password_hash;

    fn creds(hash: &str) -> Credentials {
        Credentials {
            username: "admin".into(),
            password: password_hash(hash).unwrap(),
        }
    }

    // printf %s secret | sha1sum / sha256sum
    const SHA1: &str = "{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";
    const SHA256: &str = "{SHA256}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

    #[test]
    fn the_right_user_and_password_are_admitted_with_either_hash() {
        // admin:secret
        let header = b"Basic YWRtaW46c2VjcmV0";
        assert!(creds(SHA1).admit(Some(header)));
        assert!(creds(SHA256).admit(Some(header)));
        assert!(creds(SHA1).admit(Some(b"basic  YWRtaW46c2VjcmV0 ")));
    }

    #[test]
    fn anything_else_is_refused() {
        let c = creds(SHA256);
        for header in [
            &b"Basic YWRtaW46c2VjcmV1"[..], // admin:secreu
            b"Basic cm9vdDpzZWNyZXQ=",      // root:secret
            b"Basic YWRtaW4=",              // admin (no colon)
            b"Basic YWRtaW46",              // admin: (empty password)
            b"Bearer YWRtaW46c2VjcmV0",
            b"Basic !!!!",
            b"Basic",
            b"",
            b"\xff\xfe",
        ] {
            assert!(
                !c.admit(Some(header)),
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
        assert!(!c.admit(None));
    }

    #[test]
    fn comparison_needs_equal_lengths_and_bytes() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
        assert!(same(b"", b""));
        // Lengths that differ by a multiple of 256 still differ.
        assert!(!same(&[0u8; 256], b""));
    }
}
