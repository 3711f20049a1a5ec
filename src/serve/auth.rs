//! HTTP basic authentication against `serve.username` and a hashed `serve.password`
//! (`{SHA}` + hex SHA-1, supervisord's form, or `{SHA256}` + hex).
