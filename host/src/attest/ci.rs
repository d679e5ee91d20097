//! What the CI run tells about a publish or a promotion, from Woodpecker's
//! own variables (`CI_*`, never a step's `PLUGIN_*` settings, which a
//! pipeline author controls): the repository, the commit, the builder.
//!
//! The reader takes a lookup function, so tests hand it a table instead of
//! the process environment.

/// The CI variables the statement records (Woodpecker's names); an empty
/// variable counts as unset.
pub struct Ci {
    pub repository: Option<String>,
    pub clone_url: Option<String>,
    pub git_ref: Option<String>,
    pub event: Option<String>,
    pub workflow: Option<String>,
    pub commit: Option<String>,
    pub system_url: Option<String>,
    pub platform: Option<String>,
    pub pipeline_url: Option<String>,
}

impl Ci {
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Self {
            repository: get("CI_REPO_URL").or_else(|| get("CI_REPO")),
            clone_url: get("CI_REPO_CLONE_URL").or_else(|| get("CI_REPO_URL")),
            git_ref: get("CI_COMMIT_REF"),
            event: get("CI_PIPELINE_EVENT"),
            workflow: get("CI_WORKFLOW_NAME"),
            commit: get("CI_COMMIT_SHA"),
            system_url: get("CI_SYSTEM_URL"),
            platform: get("CI_SYSTEM_PLATFORM"),
            pipeline_url: get("CI_PIPELINE_URL"),
        }
    }

    /// `CI_SYSTEM_URL#<platform>`: the CI server and the kind of agent the
    /// step ran on (`CI_SYSTEM_PLATFORM`, else this process's os/arch).
    pub fn builder_id(&self) -> Option<String> {
        let platform = self
            .platform
            .clone()
            .unwrap_or_else(|| format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH));
        self.system_url
            .as_ref()
            .map(|url| format!("{}#{platform}", url.trim_end_matches('/')))
    }

    /// `git+<clone url>@<ref>`, the commit's locator for the statement.
    pub fn commit_uri(&self) -> Option<String> {
        self.clone_url.as_ref().map(|url| match &self.git_ref {
            Some(git_ref) => format!("git+{url}@{git_ref}"),
            None => format!("git+{url}"),
        })
    }
}

/// The builder (or verifier) id CI's variables give: `CI_SYSTEM_URL#<platform>`.
pub fn ci_builder_id(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    Ci::read(lookup).builder_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_variables_are_unset_and_the_platform_defaults_to_this_machine() {
        let table = [
            ("CI_SYSTEM_URL", "https://ci.example/"),
            ("CI_COMMIT_SHA", ""),
        ];
        let ci = Ci::read(&|name| {
            table
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(ci.commit, None);
        let expected = format!(
            "https://ci.example#{}/{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        assert_eq!(ci.builder_id(), Some(expected));
        assert_eq!(ci.commit_uri(), None);
    }
}
