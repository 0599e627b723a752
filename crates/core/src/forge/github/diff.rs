//! A pull request's diff from GitHub, paged like a local branch's.

use super::*;

/// Page `page` of a pull request's diff, from GitHub's files list: each file's status and
/// counts, and its `patch` split into hunks with line numbers. GitHub leaves the patch out for
/// binary files and very large diffs; those are shown without hunks.
pub async fn pr_diff(
    gh: &GitHub,
    full_name: &str,
    number: u64,
    head_sha: &str,
    page: usize,
) -> Result<crate::forge::diff::ChangeDiff, GitHubError> {
    use crate::forge::diff::{ChangeDiff, FileDiff, FILES_PER_PAGE};
    let files = gh
        .get_all(&format!(
            "/repos/{full_name}/pulls/{number}/files?per_page=100"
        ))
        .await?;
    let total = files.len();
    let pages = total.div_ceil(FILES_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let out = files
        .iter()
        .skip((page - 1) * FILES_PER_PAGE)
        .take(FILES_PER_PAGE)
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
                additions: f["additions"].as_i64().unwrap_or(0),
                deletions: f["deletions"].as_i64().unwrap_or(0),
                hunks,
                lines_omitted,
            }
        })
        .collect();
    Ok(ChangeDiff {
        base_sha: String::new(),
        head_sha: head_sha.into(),
        files_total: total as i64,
        page: page as i64,
        pages: pages as i64,
        files: out,
    })
}
