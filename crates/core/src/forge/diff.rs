//! The diff of a local change request, for review: every file with its status and line counts,
//! and the hunks of each text file. Paged by files, and each file's lines capped, so a huge
//! change arrives in parts instead of one response the UI cannot render.

use std::path::Path;

use git2::{Delta, DiffFindOptions, DiffOptions, Oid, Patch, Repository};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Files per page of a diff.
pub const FILES_PER_PAGE: usize = 25;
/// Lines shown of one file; the rest is summarised.
pub const MAX_LINES_PER_FILE: usize = 1500;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ChangeDiff {
    /// Where the branch left its base (what the diff is against).
    pub base_sha: String,
    pub head_sha: String,
    #[ts(type = "number")]
    pub files_total: i64,
    /// 1-based.
    #[ts(type = "number")]
    pub page: i64,
    #[ts(type = "number")]
    pub pages: i64,
    pub files: Vec<FileDiff>,
    /// When these files were fetched from the forge (a pull request's, stored at a sync);
    /// `None` for a diff worked out from the local clone just now.
    #[ts(type = "number | null")]
    pub fetched_at: Option<i64>,
    /// Why the stored files are shown rather than the forge's current ones (it could not be
    /// reached, or answered with an error); `None` when they are current.
    pub note: Option<String>,
}

impl ChangeDiff {
    /// Page `page` (1-based; past the end gives the last) of a diff whose files are all known.
    pub fn paged(all: Vec<FileDiff>, head_sha: &str, page: usize, fetched_at: Option<i64>) -> Self {
        let total = all.len();
        let pages = total.div_ceil(FILES_PER_PAGE).max(1);
        let page = page.clamp(1, pages);
        ChangeDiff {
            base_sha: String::new(),
            head_sha: head_sha.into(),
            files_total: total as i64,
            page: page as i64,
            pages: pages as i64,
            files: all
                .into_iter()
                .skip((page - 1) * FILES_PER_PAGE)
                .take(FILES_PER_PAGE)
                .collect(),
            fetched_at,
            note: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FileDiff {
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    /// added, deleted, modified, renamed or typechange.
    pub status: String,
    pub binary: bool,
    #[ts(type = "number")]
    pub additions: i64,
    #[ts(type = "number")]
    pub deletions: i64,
    pub hunks: Vec<Hunk>,
    /// Lines left out past `MAX_LINES_PER_FILE`.
    #[ts(type = "number")]
    pub lines_omitted: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DiffLine {
    /// `+`, `-` or ` `.
    pub kind: String,
    #[ts(type = "number | null")]
    pub old: Option<i64>,
    #[ts(type = "number | null")]
    pub new: Option<i64>,
    pub text: String,
}

/// The diff of what commit `head_sha` changed since it left branch `base` (from their merge
/// base, as a review sees it), with that merge base.
pub fn branch_diff<'r>(
    r: &'r Repository,
    base: &str,
    head_sha: &str,
    opts: Option<&mut DiffOptions>,
) -> Result<(Oid, git2::Diff<'r>), git2::Error> {
    let head = Oid::from_str(head_sha)?;
    let base_tip = r.revparse_single(&format!("refs/heads/{base}"))?.id();
    let fork = r.merge_base(base_tip, head)?;
    let diff = r.diff_tree_to_tree(
        Some(&r.find_commit(fork)?.tree()?),
        Some(&r.find_commit(head)?.tree()?),
        opts,
    )?;
    Ok((fork, diff))
}

/// The unified diff from where `head_sha` left `base` to `head_sha`, as `git diff` prints it,
/// cut at about `max_bytes` (with a note of the cut): what an agent is shown of a change it is
/// asked to rework.
pub fn patch_text(
    repo: &Path,
    base: &str,
    head_sha: &str,
    max_bytes: usize,
) -> Result<String, git2::Error> {
    let r = Repository::open(repo)?;
    let (_, diff) = branch_diff(&r, base, head_sha, None)?;
    let mut out = String::new();
    let mut cut = false;
    diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if out.len() >= max_bytes {
            cut = true;
            return false;
        }
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .or_else(|e| if cut { Ok(()) } else { Err(e) })?;
    if cut {
        out.push_str("\n… (diff cut here)\n");
    }
    Ok(out)
}

/// Keeps a change request's files (a pull request's, as the forge gave them at `fetched_at`)
/// for reading when the forge cannot be reached.
pub async fn store_files(
    store: &crate::store::Store,
    change: &str,
    head_sha: &str,
    fetched_at: i64,
    files: &[FileDiff],
) -> crate::Result<()> {
    let json = serde_json::to_string(files).map_err(|e| crate::Error::Invalid {
        path: change.into(),
        message: format!("cannot keep its diff: {e}"),
    })?;
    store
        .set_change_patches(change, head_sha, fetched_at, &json)
        .await
}

/// The files kept by [`store_files`]: of which head, when fetched, and the files. A row this
/// version cannot read fails naming the change request.
pub async fn stored_files(
    store: &crate::store::Store,
    change: &str,
) -> crate::Result<Option<(String, i64, Vec<FileDiff>)>> {
    let Some((head, at, json)) = store.change_patches(change).await? else {
        return Ok(None);
    };
    let files = serde_json::from_str(&json).map_err(|e| crate::Error::Invalid {
        path: change.into(),
        message: format!("its stored diff cannot be read ({e}); the next sync replaces it"),
    })?;
    Ok(Some((head, at, files)))
}

/// Page `page` (1-based; past the end gives the last) of the diff from where `head_sha` left
/// `base` to `head_sha`, with renames detected.
pub fn local_diff(
    repo: &Path,
    base: &str,
    head_sha: &str,
    page: usize,
) -> Result<ChangeDiff, git2::Error> {
    let r = Repository::open(repo)?;
    let mut opts = DiffOptions::new();
    opts.context_lines(3);
    let (fork, mut diff) = branch_diff(&r, base, head_sha, Some(&mut opts))?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;
    let total = diff.deltas().len();
    let pages = total.div_ceil(FILES_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let first = (page - 1) * FILES_PER_PAGE;
    let mut files = Vec::new();
    for idx in first..(first + FILES_PER_PAGE).min(total) {
        let Some(delta) = diff.get_delta(idx) else {
            continue;
        };
        let path_of = |f: git2::DiffFile| f.path().map(|p| p.to_string_lossy().into_owned());
        let new_path = path_of(delta.new_file());
        let old_path = path_of(delta.old_file());
        let status = match delta.status() {
            Delta::Added => "added",
            Delta::Deleted => "deleted",
            Delta::Renamed => "renamed",
            Delta::Typechange => "typechange",
            _ => "modified",
        };
        let mut file = FileDiff {
            path: new_path.clone().or(old_path.clone()).unwrap_or_default(),
            old_path: (status == "renamed").then_some(old_path).flatten(),
            status: status.into(),
            binary: delta.flags().is_binary(),
            additions: 0,
            deletions: 0,
            hunks: Vec::new(),
            lines_omitted: 0,
        };
        if let Some(patch) = Patch::from_diff(&diff, idx)? {
            file.binary |= patch.delta().flags().is_binary();
            let (_, adds, dels) = patch.line_stats()?;
            file.additions = adds as i64;
            file.deletions = dels as i64;
            let mut shown = 0usize;
            for h in 0..patch.num_hunks() {
                let (hunk, n) = patch.hunk(h)?;
                let mut lines = Vec::new();
                for l in 0..n {
                    if shown >= MAX_LINES_PER_FILE {
                        file.lines_omitted += 1;
                        continue;
                    }
                    let line = patch.line_in_hunk(h, l)?;
                    let kind = match line.origin() {
                        '+' | '>' => "+",
                        '-' | '<' => "-",
                        _ => " ",
                    };
                    let text = String::from_utf8_lossy(line.content());
                    lines.push(DiffLine {
                        kind: kind.into(),
                        old: line.old_lineno().map(i64::from),
                        new: line.new_lineno().map(i64::from),
                        text: text.trim_end_matches(['\n', '\r']).to_string(),
                    });
                    shown += 1;
                }
                if !lines.is_empty() {
                    file.hunks.push(Hunk {
                        header: String::from_utf8_lossy(hunk.header())
                            .trim_end()
                            .to_string(),
                        lines,
                    });
                }
            }
        }
        if file.binary {
            file.hunks.clear();
        }
        files.push(file);
    }
    Ok(ChangeDiff {
        base_sha: fork.to_string(),
        head_sha: head_sha.to_string(),
        files_total: total as i64,
        page: page as i64,
        pages: pages as i64,
        files,
        fetched_at: None,
        note: None,
    })
}

/// A unified-diff patch (GitHub's per-file `patch`) as hunks with line numbers, capped at
/// `MAX_LINES_PER_FILE` lines; returns the hunks and how many lines were left out.
pub fn parse_patch(patch: &str) -> (Vec<Hunk>, i64) {
    let mut hunks: Vec<Hunk> = Vec::new();
    let (mut old, mut new) = (0i64, 0i64);
    let (mut shown, mut omitted) = (0usize, 0i64);
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("@@") {
            // @@ -a,b +c,d @@ context
            let mut nums = rest.split_whitespace();
            let start = |t: Option<&str>| {
                t.and_then(|t| t[1..].split(',').next()?.parse::<i64>().ok())
                    .unwrap_or(1)
            };
            old = start(nums.next());
            new = start(nums.next());
            hunks.push(Hunk {
                header: line.to_string(),
                lines: Vec::new(),
            });
            continue;
        }
        let Some(h) = hunks.last_mut() else { continue };
        if line.starts_with('\\') {
            continue; // "\ No newline at end of file"
        }
        if shown >= MAX_LINES_PER_FILE {
            omitted += 1;
            continue;
        }
        let (kind, o, n) = match line.chars().next() {
            Some('+') => ("+", None, Some(new)),
            Some('-') => ("-", Some(old), None),
            _ => (" ", Some(old), Some(new)),
        };
        if o.is_some() {
            old += 1;
        }
        if n.is_some() {
            new += 1;
        }
        h.lines.push(DiffLine {
            kind: kind.into(),
            old: o,
            new: n,
            text: line.get(1..).unwrap_or("").to_string(),
        });
        shown += 1;
    }
    (hunks, omitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_parse_with_line_numbers() {
        let (hunks, omitted) = parse_patch(
            "@@ -10,3 +10,4 @@ fn x()\n a\n-b\n+B\n+c\n d\n\\ No newline at end of file",
        );
        assert_eq!(omitted, 0);
        assert_eq!(hunks.len(), 1);
        let got: Vec<(&str, Option<i64>, Option<i64>, &str)> = hunks[0]
            .lines
            .iter()
            .map(|l| (l.kind.as_str(), l.old, l.new, l.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (" ", Some(10), Some(10), "a"),
                ("-", Some(11), None, "b"),
                ("+", None, Some(11), "B"),
                ("+", None, Some(12), "c"),
                (" ", Some(12), Some(13), "d"),
            ]
        );
    }
}
