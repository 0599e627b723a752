//! Repo identity: what makes two clones the same repository, and which machine a clone is on.
//!
//! A repo is keyed by its identity, never by where it is checked out: the normalised URL of its
//! `origin` remote (`github.com/acme/api`), or its root commit (`root:<sha>`) when it has no
//! remote. The same repository cloned on any number of laptops is one repo, so its commits,
//! deploys and velocity count once; each laptop's checkout is a clone of it (`repo_clones`).
//! Stores written before identities keyed repos by the clone's absolute path; such keys are
//! recognised here ([`is_legacy_path`]) so the carry-over can rekey them.

/// The identity of a repo whose `origin` is `url`, or `None` for an empty URL.
///
/// Every spelling of one remote gives one identity: scheme, user, port, `.git` and trailing
/// slashes are dropped and the host is lower-cased (`git@github.com:Acme/api.git`,
/// `https://github.com/Acme/api` and `ssh://git@github.com:22/Acme/api.git` are all
/// `github.com/acme/api`; the path is lower-cased only on hosts known to ignore case). A local
/// path or `file://` remote is `file://<path>`, as it names a directory, not a host.
pub fn from_remote(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return Some(format!("file://{}", trim_repo_path(rest)));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        (authority, path.to_string())
    } else if let Some((authority, path)) = scp_like(url) {
        (authority, path.to_string())
    } else {
        // A plain path (`/srv/git/api.git`, `../api`): a directory on this machine.
        return Some(format!("file://{}", trim_repo_path(url)));
    };
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let path = trim_repo_path(&path);
    let path = if CASE_BLIND_HOSTS.contains(&host.as_str()) {
        path.to_lowercase()
    } else {
        path
    };
    Some(if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    })
}

/// The identity of a repo with no remote: its root commit.
pub fn from_root(sha: &str) -> String {
    format!("root:{sha}")
}

/// A repo's clone on this machine: `clone` when one is recorded, else the key itself when it
/// is a pre-identity path (a store or a queued payload from before the carry-over).
pub fn clone_or_legacy(clone: Option<String>, key: &str) -> Option<String> {
    clone.or_else(|| is_legacy_path(key).then(|| key.to_string()))
}

/// Whether `key` is a pre-identity repo key: an absolute path (`/…` or `C:\…`).
pub fn is_legacy_path(key: &str) -> bool {
    let b = key.as_bytes();
    key.starts_with('/')
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

/// Hosts whose owner and repo names are case-insensitive, so `Acme/API` is `acme/api`.
const CASE_BLIND_HOSTS: &[&str] = &["github.com", "gitlab.com", "bitbucket.org"];

/// `user@host:path` (git's scp-like syntax), but not `C:\…` or a path with a colon later on.
fn scp_like(url: &str) -> Option<(&str, &str)> {
    let (authority, path) = url.split_once(':')?;
    if authority.is_empty() || authority.contains('/') || authority.len() == 1 {
        return None;
    }
    Some((authority, path))
}

fn trim_repo_path(path: &str) -> String {
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    path.trim_end_matches('/').to_string()
}

/// This machine's name, which tells its clones and its processes from another machine's on a
/// shared database: `FLIGHTDECK_MACHINE` when set (two instances on one host that should act as
/// two machines, as in the team tests), else the host name.
pub fn this_machine() -> String {
    std::env::var("FLIGHTDECK_MACHINE")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_remote_is_one_identity() {
        for url in [
            "git@github.com:Acme/api.git",
            "https://github.com/Acme/api",
            "https://github.com/acme/api.git/",
            "ssh://git@github.com:22/Acme/api.git",
            "https://token@GitHub.com/acme/API",
        ] {
            assert_eq!(
                from_remote(url).as_deref(),
                Some("github.com/acme/api"),
                "{url}"
            );
        }
    }

    #[test]
    fn case_is_kept_where_the_host_may_care() {
        assert_eq!(
            from_remote("https://git.example.org/Team/Api.git").as_deref(),
            Some("git.example.org/Team/Api")
        );
    }

    #[test]
    fn a_path_remote_names_a_directory() {
        assert_eq!(
            from_remote("/srv/git/api.git").as_deref(),
            Some("file://srv/git/api")
        );
        assert_eq!(
            from_remote("file:///srv/git/api.git").as_deref(),
            Some("file://srv/git/api")
        );
        assert_eq!(from_remote("  "), None);
    }

    #[test]
    fn legacy_keys_are_absolute_paths() {
        assert!(is_legacy_path("/home/me/api"));
        assert!(is_legacy_path("C:\\src\\api"));
        assert!(!is_legacy_path("github.com/acme/api"));
        assert!(!is_legacy_path("root:0123abcd"));
        assert!(!is_legacy_path("file://srv/git/api"));
    }
}
