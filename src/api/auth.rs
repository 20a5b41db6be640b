//! Who may call the API: `Authorization: Bearer <token>` or the `_token` query parameter,
//! where the token is the server's `requirepass` (the password AUTH takes), or the
//! `http-readonly-token`, which may only run commands that change nothing. Without a
//! requirepass everyone may, as on RESP.

use axum::http::{header, HeaderMap, Uri};

/// What a request's token lets it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Full,
    ReadOnly,
    Denied,
}

/// The access of a request, given the server's password and read-only token.
pub fn access(requirepass: &str, readonly: &str, headers: &HeaderMap, uri: &Uri) -> Access {
    if allowed(requirepass, headers, uri) {
        Access::Full
    } else if !readonly.is_empty() && allowed(readonly, headers, uri) {
        Access::ReadOnly
    } else {
        Access::Denied
    }
}

/// Does this request carry `secret` (or is none needed)?
fn allowed(requirepass: &str, headers: &HeaderMap, uri: &Uri) -> bool {
    if requirepass.is_empty() {
        return true;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("_token="))
            .map(|t| super::command::percent_decode(t.as_bytes()))
    });
    let matches = |token: &[u8]| constant_time_eq(token, requirepass.as_bytes());
    bearer.is_some_and(|t| matches(t.as_bytes())) || query.is_some_and(|t| matches(&t))
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_or_query_token() {
        let mut h = HeaderMap::new();
        let uri: Uri = "/get/k".parse().unwrap();
        assert!(allowed("", &h, &uri));
        assert!(!allowed("s3cret", &h, &uri));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(allowed("s3cret", &h, &uri));
        h.insert(header::AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(!allowed("s3cret", &h, &uri));
        let q: Uri = "/get/k?x=1&_token=s3cret".parse().unwrap();
        assert!(allowed("s3cret", &HeaderMap::new(), &q));
        let q: Uri = "/get/k?_token=s3cretX".parse().unwrap();
        assert!(!allowed("s3cret", &HeaderMap::new(), &q));
        let ro: Uri = "/get/k?_token=look".parse().unwrap();
        assert_eq!(
            access("s3cret", "look", &HeaderMap::new(), &ro),
            Access::ReadOnly
        );
        assert_eq!(access("s3cret", "", &HeaderMap::new(), &ro), Access::Denied);
        assert_eq!(access("", "look", &HeaderMap::new(), &uri), Access::Full);
    }
}
