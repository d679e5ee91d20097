//! Which of the outer build's environment variables the guest's own cargo
//! must not inherit. The guest has to be byte-identical whatever builds the
//! host (`cargo build --release`, the `dist` profile, a cross build,
//! maturin/cargo-zigbuild), because its SHA-256 is what `-V` reports and
//! what the dist build checks. A setting the outer build makes for the host
//! can change the guest's compilation, or only the `-C metadata` hashes
//! cargo derives for its crates: those end up in the guest's symbol names
//! and so in its code layout. cargo-zigbuild, for one, sets
//! `CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST=true`,
//! `CARGO_TARGET_APPLIES_TO_HOST=false` and
//! `__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS=nightly` (which unlocks
//! that unstable setting on stable cargo), and with them cargo hashes the
//! guest's build scripts and proc macros differently, and every crate that
//! depends on them.

/// The `CARGO_*` variables the guest's cargo keeps: where cargo lives, how
/// it reaches registries (the guest may need crates the host does not), how
/// it prints, and the outer build's jobserver, so that both builds share one
/// job budget. None of them changes what is compiled.
const KEPT_CARGO_NAMES: [&str; 2] = ["CARGO_HOME", "CARGO_MAKEFLAGS"];
const KEPT_CARGO_PREFIXES: [&str; 5] = [
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_TERM_",
];

/// Whether `name` is a setting of the outer build that must be kept from the
/// guest's cargo. Every other `CARGO_*` variable is either build
/// configuration (profiles, targets, rustflags, unstable features, the
/// target directory) or what the outer cargo tells the host's build script
/// about the host's compilation (`CARGO_CFG_*`, `CARGO_FEATURE_*`,
/// `CARGO_ENCODED_RUSTFLAGS`); `__CARGO_*` are cargo's internal overrides.
/// Variables outside cargo's namespace stay (PATH, the toolchain, proxies),
/// except the flags and wrappers the outer build gives rustc for the host.
pub fn is_outer_build_setting(name: &str) -> bool {
    if name.starts_with("__CARGO_") {
        return true;
    }
    if name.starts_with("CARGO_") {
        return !(KEPT_CARGO_NAMES.contains(&name)
            || KEPT_CARGO_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix)));
    }
    matches!(
        name,
        "RUSTFLAGS" | "RUSTC_WORKSPACE_WRAPPER" | "RUSTC_LINKER"
    )
}

#[cfg(test)]
mod tests {
    use super::is_outer_build_setting;

    /// The names among `names` that the rule does not judge as `withheld`.
    fn misjudged<'a>(names: &[&'a str], withheld: bool) -> Vec<&'a str> {
        names
            .iter()
            .copied()
            .filter(|name| is_outer_build_setting(name) != withheld)
            .collect()
    }

    #[test]
    fn the_outer_builds_settings_are_withheld_from_the_guest() {
        let settings = [
            // What maturin --zig (cargo-zigbuild) sets.
            "CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST",
            "CARGO_TARGET_APPLIES_TO_HOST",
            "__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
            "CARGO_ZIGBUILD_TARGET",
            // Flags, wrappers, profiles, targets, and what cargo tells the
            // host's build script.
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTC_LINKER",
            "CARGO_PROFILE_GUEST_LTO",
            "CARGO_BUILD_TARGET",
            "CARGO_TARGET_DIR",
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
            "CARGO_HOST_RUSTFLAGS",
            "CARGO_INCREMENTAL",
            "CARGO_CFG_UNIX",
            "CARGO_FEATURE_STD",
            "__CARGO_DEFAULT_LIB_METADATA",
        ];
        assert_eq!(misjudged(&settings, true), Vec::<&str>::new());
    }

    #[test]
    fn where_cargo_lives_and_how_it_downloads_reach_the_guest() {
        let kept = [
            "CARGO_HOME",
            "CARGO_MAKEFLAGS",
            "CARGO_NET_OFFLINE",
            "CARGO_HTTP_PROXY",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "CARGO_TERM_COLOR",
            "CARGO",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTUP_TOOLCHAIN",
            "PATH",
            "HOME",
        ];
        assert_eq!(misjudged(&kept, false), Vec::<&str>::new());
    }
}
