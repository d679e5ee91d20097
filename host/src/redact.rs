//! URLs fit to print. A presigned URL carries a working credential in its
//! query (`X-Amz-Credential`, `X-Amz-Signature`, a session token), and any
//! URL may carry a password or token in its userinfo, so every URL the tool
//! prints or logs goes through `url` first.
//!
//! Parameter names are kept and every value is replaced: the names tell a
//! reader it was a presigned URL (and which kind), which helps debugging;
//! no value is kept, because no list of "secret" names can be complete.

const HIDDEN: &str = "REDACTED";

/// `url` with the userinfo, every query value and the fragment replaced by
/// `REDACTED`. Works on text, so a string that is not a valid URL (quoted in
/// a usage error) is redacted too.
pub fn url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, _)) => (rest, Some(HIDDEN)),
        None => (url, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (rest, None),
    };
    let mut printed = without_userinfo(base);
    if let Some(query) = query {
        printed.push('?');
        printed.push_str(&names_only(query));
    }
    if let Some(fragment) = fragment {
        printed.push('#');
        printed.push_str(fragment);
    }
    printed
}

/// `scheme://user:password@host/path` -> `scheme://REDACTED@host/path`.
fn without_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{HIDDEN}@{host}{path}"),
        None => base.to_string(),
    }
}

/// `a=1&b=2&c` -> `a=REDACTED&b=REDACTED&REDACTED`: a part without `=`
/// may be a bare token, so it goes too.
fn names_only(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={HIDDEN}"),
            None => HIDDEN.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn a_presigned_url_keeps_its_names_and_loses_every_value() {
        let presigned = "http://127.0.0.1:3900/artifacts/dev/a.enc?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                         &X-Amz-Credential=GK123%2F20261202%2Fgarage%2Fs3%2Faws4_request\
                         &X-Amz-Date=20261202T143000Z&X-Amz-Expires=600\
                         &X-Amz-SignedHeaders=host&X-Amz-Signature=0123abcd";
        assert_eq!(
            url(presigned),
            "http://127.0.0.1:3900/artifacts/dev/a.enc?X-Amz-Algorithm=REDACTED\
             &X-Amz-Credential=REDACTED&X-Amz-Date=REDACTED&X-Amz-Expires=REDACTED\
             &X-Amz-SignedHeaders=REDACTED&X-Amz-Signature=REDACTED"
        );
    }

    #[test]
    fn userinfo_and_fragments_are_hidden() {
        assert_eq!(
            url("https://user:pa55@cdn.example.com/a.enc?token=t0k#sig=1"),
            "https://REDACTED@cdn.example.com/a.enc?token=REDACTED#REDACTED"
        );
        // An `@` in the path is not userinfo.
        assert_eq!(
            url("https://cdn.example.com/@scope/a.enc"),
            "https://cdn.example.com/@scope/a.enc"
        );
    }

    #[test]
    fn a_plain_url_or_non_url_is_unchanged_but_for_its_query() {
        assert_eq!(
            url("https://cdn.example.com/dev/a.enc"),
            "https://cdn.example.com/dev/a.enc"
        );
        assert_eq!(url("not a url?secret"), "not a url?REDACTED");
        assert_eq!(url("not a url?k=secret"), "not a url?k=REDACTED");
    }
}
