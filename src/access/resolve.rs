//! Host name lookups for host-name rules: the [`Resolver`] seam, the system resolver, and a
//! static one for tests.
//!
//! The matcher asks only when a rule needs a client's host name (`LOCAL`, `KNOWN`, `UNKNOWN`,
//! `PARANOID`, `.domain`, a host name, or `%h`/`%n`/`%c` in a `spawn`): a rule set of addresses
//! alone never causes a lookup.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};

/// Reverse and forward host name lookups.
pub trait Resolver {
    /// The name the address's PTR record gives, if any.
    fn reverse(&self, ip: IpAddr) -> Option<String>;
    /// The addresses a name resolves to (empty when it does not resolve).
    fn forward(&self, name: &str) -> Vec<IpAddr>;
}

/// getnameinfo(3) and getaddrinfo(3), with the system's resolver configuration and timeouts.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        // (nix's socket address types need its `net` feature; these are plain C structs.)
        // SAFETY: all-zero bytes are a valid sockaddr_in.
        let mut v4: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        // SAFETY: all-zero bytes are a valid sockaddr_in6.
        let mut v6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        let (ptr, len) = match ip {
            IpAddr::V4(a) => {
                v4.sin_family = libc::AF_INET as libc::sa_family_t;
                v4.sin_addr.s_addr = u32::from(a).to_be();
                (
                    &v4 as *const libc::sockaddr_in as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>(),
                )
            }
            IpAddr::V6(a) => {
                v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                v6.sin6_addr.s6_addr = a.octets();
                (
                    &v6 as *const libc::sockaddr_in6 as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>(),
                )
            }
        };
        let mut host = [0 as libc::c_char; libc::NI_MAXHOST as usize];
        // SAFETY: `ptr` points to a live, initialised socket address of `len` bytes; `host` is
        // a writable buffer whose length is passed; no service name is asked for (null, 0).
        let rc = unsafe {
            libc::getnameinfo(
                ptr,
                len as libc::socklen_t,
                host.as_mut_ptr(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            )
        };
        if rc != 0 {
            return None;
        }
        // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
        let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
        Some(name.to_string_lossy().into_owned())
    }

    fn forward(&self, name: &str) -> Vec<IpAddr> {
        (name, 0u16)
            .to_socket_addrs()
            .map(|it| it.map(|sa| sa.ip()).collect())
            .unwrap_or_default()
    }
}

/// A resolver answering from tables, counting the lookups it was asked for.
#[derive(Debug, Default)]
pub struct StaticResolver {
    ptr: HashMap<IpAddr, String>,
    addrs: HashMap<String, Vec<IpAddr>>,
    lookups: Cell<usize>,
}

impl StaticResolver {
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Adds a PTR record: `ip` reverses to `name`.
    pub fn ptr(mut self, ip: &str, name: &str) -> StaticResolver {
        self.ptr
            .insert(ip.parse().expect("an IP address"), name.to_string());
        self
    }

    /// Adds an address record: `name` resolves to `ip` (among others).
    pub fn addr(mut self, name: &str, ip: &str) -> StaticResolver {
        self.addrs
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(ip.parse().expect("an IP address"));
        self
    }

    /// A name whose PTR and address records agree.
    pub fn host(self, ip: &str, name: &str) -> StaticResolver {
        self.ptr(ip, name).addr(name, ip)
    }

    /// How many lookups (reverse or forward) were made.
    pub fn lookups(&self) -> usize {
        self.lookups.get()
    }
}

impl Resolver for StaticResolver {
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        self.lookups.set(self.lookups.get() + 1);
        self.ptr.get(&ip).cloned()
    }

    fn forward(&self, name: &str) -> Vec<IpAddr> {
        self.lookups.set(self.lookups.get() + 1);
        self.addrs
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }
}
