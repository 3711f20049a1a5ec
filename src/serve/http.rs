//! One HTTP/1.1 connection of `svc serve`: requests read with httparse under SPEC §10's
//! bounds, answered through [`super::respond`].
