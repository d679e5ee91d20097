//! The operating system of an image, from os-release(5): `etc/os-release`,
//! or `usr/lib/os-release` when that is missing or names no `ID` (the order
//! systemd and syft read them in). The OS packages' purls carry it
//! (`pkg:deb/debian/...&distro=debian-12`).

use super::catalog::{Distro, FileMeta, Found, Take};

const PATHS: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// os-release is a few hundred bytes; anything past this is not one.
const LIMIT: u64 = 64 * 1024;

/// Whether the scan should keep this file for `detect`.
pub fn wants(file: &FileMeta<'_>) -> Option<Take> {
    PATHS
        .contains(&file.path)
        .then_some(Take::Whole { limit: LIMIT })
}

/// The distro the kept os-release files describe, the first with an `ID`.
pub fn detect(files: &[Found]) -> Option<Distro> {
    PATHS.iter().find_map(|path| {
        let found = files.iter().find(|found| found.path == *path)?;
        let bytes = found.content.bytes().ok()?;
        Some(parse(&String::from_utf8_lossy(&bytes))).filter(|distro| !distro.id.is_empty())
    })
}

/// Reads `KEY=value` lines; `#` comments, blank lines and lines that are no
/// assignment are skipped, as os-release(5) tells readers to.
pub fn parse(text: &str) -> Distro {
    let mut distro = Distro::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw);
        match key.trim() {
            "ID" => distro.id = value,
            "VERSION_ID" => distro.version_id = Some(value).filter(|value| !value.is_empty()),
            "ID_LIKE" => distro.id_like = value.split_whitespace().map(str::to_owned).collect(),
            "PRETTY_NAME" => distro.pretty_name = Some(value).filter(|value| !value.is_empty()),
            _ => {}
        }
    }
    distro
}

/// A value in the shell style os-release(5) allows: in single quotes
/// literal, in double quotes with `\"`, `\\`, `\$` and `` \` `` escapes,
/// unquoted with `\` escaping the next character. A missing closing quote
/// ends the value at the end of the line.
fn unquote(raw: &str) -> String {
    let mut value = String::new();
    let mut chars = raw.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => value.extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => value.push(escaped),
                            Some(other) => value.extend(['\\', other]),
                            None => value.push('\\'),
                        },
                        other => value.push(other),
                    }
                }
            }
            '\\' => value.extend(chars.next()),
            other => value.push(other),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::Content;

    #[test]
    fn debian_and_alpine_as_the_fixtures_write_them() {
        let debian = parse(include_str!("testdata/debian/os-release"));
        assert_eq!(debian.id, "debian");
        assert_eq!(debian.version_id.as_deref(), Some("12"));
        assert_eq!(
            debian.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let alpine = parse(include_str!("testdata/alpine/os-release"));
        assert_eq!(
            (alpine.id.as_str(), alpine.version_id.as_deref()),
            ("alpine", Some("3.20.3"))
        );
    }

    #[test]
    fn quotes_escapes_and_comments() {
        let distro = parse(concat!(
            "# ID=commented\n",
            "ID='centos'\n",
            "ID_LIKE=\"rhel fedora\"\n",
            "PRETTY_NAME=\"Say \\\"hi\\\" \\$HOME \\\\ \\n\"\n",
            "VERSION_ID=7\\ core\n",
            "garbage line\n",
        ));
        assert_eq!(distro.id, "centos");
        assert_eq!(distro.id_like, ["rhel", "fedora"]);
        assert_eq!(
            distro.pretty_name.as_deref(),
            Some("Say \"hi\" $HOME \\ \\n")
        );
        assert_eq!(distro.version_id.as_deref(), Some("7 core"));
    }

    #[test]
    fn etc_wins_unless_it_names_no_id() {
        let found = |path: &str, text: &str| Found {
            path: path.into(),
            content: Content::Bytes(text.into()),
        };
        let usr = found("usr/lib/os-release", "ID=fedora\nVERSION_ID=40\n");
        assert_eq!(
            detect(&[usr, found("etc/os-release", "ID=rhel\n")])
                .unwrap()
                .id,
            "rhel"
        );
        let usr = found("usr/lib/os-release", "ID=fedora\nVERSION_ID=40\n");
        assert_eq!(
            detect(&[found("etc/os-release", "\u{0}\u{1}"), usr])
                .unwrap()
                .id,
            "fedora"
        );
        assert_eq!(detect(&[]), None);
    }

    #[test]
    fn wants_only_the_two_paths() {
        let meta = |path| FileMeta {
            path,
            size: 10,
            mode: 0o644,
        };
        assert!(wants(&meta("etc/os-release")).is_some());
        assert!(wants(&meta("usr/lib/os-release")).is_some());
        assert!(wants(&meta("opt/etc/os-release")).is_none());
    }
}
