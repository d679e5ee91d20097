//! Package URLs (<https://github.com/package-url/purl-spec>), written the
//! way syft 1.18.1 writes them, so that our purls and syft's are the same
//! strings and not only the same once decoded: qualifiers without a value
//! are left out and the rest sorted by key; `@`, `+`, `?`, `#`, space and
//! non-ASCII bytes are percent-encoded in every part, `:` and `/` in a
//! version are not (`hello-acme@1:2.10-3`). Unlike syft, `%` itself is
//! encoded too, so a name holding one still decodes to itself.

use super::catalog::Distro;
use std::fmt::Write;

/// The purl of a package. `namespace` may be empty or hold several
/// `/`-separated segments; `version` may be empty (no `@`).
pub fn format(
    purl_type: &str,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut purl = format!("pkg:{purl_type}/");
    for segment in namespace.split('/').filter(|segment| !segment.is_empty()) {
        purl.push_str(&escape(segment));
        purl.push('/');
    }
    purl.push_str(&escape(name));
    if !version.is_empty() {
        purl.push('@');
        purl.push_str(&escape(version));
    }
    let mut qualifiers: Vec<_> = qualifiers
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    qualifiers.sort();
    for (index, (key, value)) in qualifiers.into_iter().enumerate() {
        purl.push(if index == 0 { '?' } else { '&' });
        purl.push_str(key);
        purl.push('=');
        purl.push_str(&escape(value));
    }
    purl
}

/// The `distro` qualifier syft adds to OS packages: `ID-VERSION_ID`
/// (`debian-12`, `alpine-3.20.3`), or nothing when either is unknown.
pub fn distro_qualifier(distro: Option<&Distro>) -> String {
    match distro {
        Some(Distro {
            id,
            version_id: Some(version),
            ..
        }) if !id.is_empty() && !version.is_empty() => {
            format!("{id}-{version}")
        }
        _ => String::new(),
    }
}

/// A purl with a subpath (Go packages below their module's repository),
/// for the catalogers that build one field by field.
#[derive(Debug, Clone, Default)]
pub struct Purl<'a> {
    pub kind: &'a str,
    /// Empty for none; may hold `/` (Go module paths).
    pub namespace: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    /// Key and value; empty values are left out, the rest sorted by key.
    pub qualifiers: Vec<(&'a str, String)>,
    /// Empty for none; may hold `/`.
    pub subpath: &'a str,
}

impl std::fmt::Display for Purl<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let qualifiers: Vec<(&str, &str)> = self
            .qualifiers
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        out.write_str(&format(
            self.kind,
            self.namespace,
            self.name,
            self.version,
            &qualifiers,
        ))?;
        let segments = self.subpath.split('/').filter(|s| !s.is_empty());
        for (index, segment) in segments.enumerate() {
            let separator = if index == 0 { '#' } else { '/' };
            write!(out, "{separator}{}", escape(segment))?;
        }
        Ok(())
    }
}

fn escape(part: &str) -> String {
    let mut escaped = String::with_capacity(part.len());
    for &byte in part.as_bytes() {
        match byte {
            b'@' | b'+' | b'?' | b'#' | b' ' | b'%' | 0..=0x1f | 0x7f.. => {
                write!(escaped, "%{byte:02X}").expect("writing to a String")
            }
            _ => escaped.push(byte as char),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_sorted_empty_ones_dropped_and_at_escaped() {
        // tests/SBOM_ORACLE.md, `dir:` debian, raw as syft prints it.
        assert_eq!(
            format(
                "deb",
                "debian",
                "hello-acme",
                "1:2.10-3",
                &[
                    ("upstream", "hello-src@2.10-3"),
                    ("arch", "all"),
                    ("distro", "debian-12"),
                    ("epoch", "")
                ]
            ),
            "pkg:deb/debian/hello-acme@1:2.10-3?arch=all&distro=debian-12&upstream=hello-src%402.10-3"
        );
    }

    #[test]
    fn plus_space_and_non_ascii_are_escaped_like_syft() {
        // syft 1.18.1 on a status file with these versions printed
        // `libgcc-s1@12.2.0-14%2Bdeb12u1?...&upstream=gcc-12%4012.2.0-14%2Bdeb12u1`
        // and `nosrcver@1.0%202`.
        assert_eq!(
            format(
                "deb",
                "debian",
                "libgcc-s1",
                "12.2.0-14+deb12u1",
                &[("upstream", "gcc-12@12.2.0-14+deb12u1")]
            ),
            "pkg:deb/debian/libgcc-s1@12.2.0-14%2Bdeb12u1?upstream=gcc-12%4012.2.0-14%2Bdeb12u1"
        );
        assert_eq!(
            format("deb", "", "nosrcver", "1.0 2", &[]),
            "pkg:deb/nosrcver@1.0%202"
        );
        assert_eq!(
            format("npm", "@types", "nodé", "", &[]),
            "pkg:npm/%40types/nod%C3%A9"
        );
    }

    #[test]
    fn the_go_forms_keep_slashes_and_parentheses() {
        // SBOM_ORACLE.md, Go: `pkg:golang/./greet@(devel)`.
        assert_eq!(
            format("golang", "", "./greet", "(devel)", &[]),
            "pkg:golang/./greet@(devel)"
        );
        assert_eq!(
            format("golang", "example.com/acme", "greet", "v1.2.3", &[]),
            "pkg:golang/example.com/acme/greet@v1.2.3"
        );
    }

    #[test]
    fn distro_needs_both_id_and_version() {
        let mut distro = Distro {
            id: "alpine".into(),
            version_id: Some("3.20.3".into()),
            ..Distro::default()
        };
        assert_eq!(distro_qualifier(Some(&distro)), "alpine-3.20.3");
        distro.version_id = None;
        assert_eq!(distro_qualifier(Some(&distro)), "");
        assert_eq!(distro_qualifier(None), "");
    }
}
