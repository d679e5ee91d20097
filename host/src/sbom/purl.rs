//! Package URLs (<https://github.com/package-url/purl-spec>) written the
//! way syft writes them, so that ours and syft's compare equal once
//! decoded.

/// A purl being built: `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`.
#[derive(Debug, Clone, Default)]
pub struct Purl<'a> {
    pub kind: &'a str,
    /// Empty for none; may hold `/` (Go module paths).
    pub namespace: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    /// Key and value; empty values are left out, the rest sorted by key.
    pub qualifiers: Vec<(&'a str, String)>,
    /// Empty for none; may hold `/` (a Go package below its module's repository).
    pub subpath: &'a str,
}

impl std::fmt::Display for Purl<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(out, "pkg:{}/", self.kind)?;
        for segment in self.namespace.split('/').filter(|s| !s.is_empty()) {
            write!(out, "{}/", escape(segment, PATH_KEEPS))?;
        }
        write!(out, "{}", escape(self.name, PATH_KEEPS))?;
        if !self.version.is_empty() {
            write!(out, "@{}", escape(self.version, PATH_KEEPS))?;
        }
        let mut qualifiers: Vec<_> = self
            .qualifiers
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        qualifiers.sort_by_key(|(key, _)| *key);
        for (index, (key, value)) in qualifiers.into_iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            write!(out, "{separator}{key}={}", escape(value, ""))?;
        }
        for (index, segment) in self
            .subpath
            .split('/')
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            write!(
                out,
                "{}{}",
                if index == 0 { '#' } else { '/' },
                escape(segment, PATH_KEEPS)
            )?;
        }
        Ok(())
    }
}

/// What syft leaves unescaped in names and versions beyond the unreserved
/// characters: the epoch's `:`, Go's `(devel)`, `+` of build metadata.
const PATH_KEEPS: &str = ":()+!*',;=&$";

/// Percent-encodes all but ASCII letters, digits, `-._~` and `keeps`.
fn escape(text: &str, keeps: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || b"-._~".contains(&byte)
            || keeps.as_bytes().contains(&byte)
        {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_qualifiers_sorted_and_escaped() {
        let purl = Purl {
            kind: "rpm",
            namespace: "redhat",
            name: "acme-tools",
            version: "1.4.0-3",
            qualifiers: vec![
                ("upstream", "acme-tools-1.4.0-3.src.rpm".into()),
                ("epoch", "2".into()),
                ("arch", "noarch".into()),
                ("distro", String::new()),
            ],
            subpath: "",
        };
        assert_eq!(
            purl.to_string(),
            "pkg:rpm/redhat/acme-tools@1.4.0-3?arch=noarch&epoch=2&upstream=acme-tools-1.4.0-3.src.rpm"
        );
        let upstream = Purl {
            qualifiers: vec![("upstream", "hello-src@2.10-3".into())],
            ..purl
        };
        assert!(
            upstream
                .to_string()
                .ends_with("?upstream=hello-src%402.10-3")
        );
    }

    #[test]
    fn keeps_go_paths_and_devel_versions() {
        let purl = Purl {
            kind: "golang",
            namespace: "example.com/acme",
            name: "hello",
            version: "(devel)",
            ..Default::default()
        };
        assert_eq!(
            purl.to_string(),
            "pkg:golang/example.com/acme/hello@(devel)"
        );
        let local = Purl {
            kind: "golang",
            namespace: ".",
            name: "greet",
            version: "(devel)",
            ..Default::default()
        };
        assert_eq!(local.to_string(), "pkg:golang/./greet@(devel)");
        let below = Purl {
            kind: "golang",
            namespace: "github.com/moby",
            name: "sys",
            version: "v0.3.0",
            subpath: "user/x",
            ..Default::default()
        };
        assert_eq!(
            below.to_string(),
            "pkg:golang/github.com/moby/sys@v0.3.0#user/x"
        );
    }
}
