//! A pull request's diff from GitHub, paged like a local branch's.

use super::*;
use crate::forge::diff::{ChangeDiff, FileDiff};

/// The files of a pull request, from GitHub's files list: each file's status and counts, and
/// its `patch` split into hunks with line numbers. GitHub leaves the patch out for binary files
/// and very large diffs; those are shown without hunks.
pub fn files_of(list: &[serde_json::Value]) -> Vec<FileDiff> {
    list.iter()
        .map(|f| {
            let patch = f["patch"].as_str();
            let status = match f["status"].as_str().unwrap_or("modified") {
                "removed" => "deleted",
                "added" => "added",
                "renamed" => "renamed",
                _ => "modified",
            };
            let changes = f["changes"].as_i64().unwrap_or(0);
            let (hunks, lines_omitted) = patch
                .map(crate::forge::diff::parse_patch)
                .unwrap_or_default();
            FileDiff {
                path: f["filename"].as_str().unwrap_or("").into(),
                old_path: f["previous_filename"].as_str().map(str::to_string),
                status: status.into(),
                binary: patch.is_none() && changes == 0 && status != "deleted",
                additions: f["additions"].as_i64().unwrap_or(0).max(0),
                deletions: f["deletions"].as_i64().unwrap_or(0).max(0),
                hunks,
                lines_omitted,
            }
        })
        .collect()
}

/// Every file of a pull request's diff at `head_sha`, fetched now.
pub async fn pr_files(
    gh: &GitHub,
    full_name: &str,
    number: u64,
) -> Result<Vec<FileDiff>, GitHubError> {
    let list = gh
        .get_all(&format!(
            "/repos/{full_name}/pulls/{number}/files?per_page=100"
        ))
        .await?;
    Ok(files_of(&list))
}

/// Page `page` of a pull request's diff, fetched now.
pub async fn pr_diff(
    gh: &GitHub,
    full_name: &str,
    number: u64,
    head_sha: &str,
    page: usize,
) -> Result<ChangeDiff, GitHubError> {
    let files = pr_files(gh, full_name, number).await?;
    Ok(ChangeDiff::paged(
        files,
        head_sha,
        page,
        Some(chrono::Utc::now().timestamp()),
    ))
}
