//! The outbox's applier for GitHub: reviews, merges, closes, assignments and release reviews
//! sent exactly once (each carries a marker, so a lost answer is found done, not re-sent).

use crate::domain::actions::outcome_of;
use crate::forge::github::GitHub;
use crate::model::ActionKind;

/// Applies outbox actions on GitHub pull requests: reviews through the reviews API (the
/// action's key hidden in the body, so a resent review is recognised), merges through the
/// merge API with the head the lead reviewed (a PR that moved is refused with 409, not merged),
/// closes by setting the pull request's state.
pub struct GitHubApplier {
    pub gh: GitHub,
}

/// Where an action's key sits in a review body.
pub fn marker(key: &str) -> String {
    format!("<!-- flightdeck:{key} -->")
}

impl GitHubApplier {
    fn pr_path(p: &crate::domain::outbox::Payload) -> Option<String> {
        Some(format!("/repos/{}/pulls/{}", p.repo, p.number?))
    }
}

impl crate::domain::outbox::Applier for GitHubApplier {
    async fn check(
        &self,
        a: &crate::model::Action,
        p: &crate::domain::outbox::Payload,
    ) -> crate::domain::outbox::Checked {
        use crate::domain::outbox::Checked;
        if a.kind == ActionKind::Assign {
            return crate::domain::issues::check_assign(&self.gh, p).await;
        }
        if matches!(
            a.kind,
            ActionKind::ReleaseApprove | ActionKind::ReleaseReject
        ) {
            return crate::domain::releases::check_review(&self.gh, p).await;
        }
        let Some(path) = Self::pr_path(p) else {
            return Checked::Unknown("the action names no pull request number".into());
        };
        if a.kind == ActionKind::Merge {
            return match self.gh.get(&path).await {
                Ok((pr, _)) if pr["merged"].as_bool() == Some(true) => Checked::Done(format!(
                    "merged as {}",
                    pr["merge_commit_sha"].as_str().unwrap_or("?")
                )),
                Ok(_) => Checked::NotDone,
                Err(e) => crate::domain::actions::checked_of(e),
            };
        }
        if a.kind == ActionKind::Close {
            return match self.gh.get(&path).await {
                Ok((pr, _)) if pr["state"].as_str() == Some("closed") => {
                    Checked::Done("closed".into())
                }
                Ok(_) => Checked::NotDone,
                Err(e) => crate::domain::actions::checked_of(e),
            };
        }
        let mark = marker(&a.idempotency_key);
        match self
            .gh
            .get_all(&format!("{path}/reviews?per_page=100"))
            .await
        {
            Ok(reviews) => match reviews
                .iter()
                .find(|r| r["body"].as_str().is_some_and(|b| b.contains(&mark)))
            {
                Some(r) => Checked::Done(format!("review {}", r["id"])),
                None => Checked::NotDone,
            },
            Err(e) => crate::domain::actions::checked_of(e),
        }
    }

    async fn apply(
        &self,
        a: &crate::model::Action,
        p: &crate::domain::outbox::Payload,
    ) -> crate::domain::outbox::Outcome {
        use crate::domain::outbox::Outcome;
        if a.kind == ActionKind::Assign {
            return crate::domain::issues::apply_assign(&self.gh, p).await;
        }
        if matches!(
            a.kind,
            ActionKind::ReleaseApprove | ActionKind::ReleaseReject
        ) {
            return crate::domain::releases::apply_review(&self.gh, a.kind, p).await;
        }
        let Some(path) = Self::pr_path(p) else {
            return Outcome::Failed("the action names no pull request number".into());
        };
        if a.kind == ActionKind::Merge {
            let body = serde_json::json!({
                "sha": p.sha,
                "merge_method": p.method.as_deref().unwrap_or("merge"),
            });
            return match self
                .gh
                .send(reqwest::Method::PUT, &format!("{path}/merge"), &body)
                .await
            {
                Ok(v) => {
                    Outcome::Applied(format!("merged as {}", v["sha"].as_str().unwrap_or("?")))
                }
                Err(e) => outcome_of(e),
            };
        }
        if a.kind == ActionKind::Close {
            let body = serde_json::json!({ "state": "closed" });
            return match self.gh.send(reqwest::Method::PATCH, &path, &body).await {
                Ok(_) => Outcome::Applied(format!("closed{}", crate::domain::outbox::because(p))),
                Err(e) => outcome_of(e),
            };
        }
        let event = match a.kind {
            ActionKind::Approve => "APPROVE",
            ActionKind::RequestChanges => "REQUEST_CHANGES",
            ActionKind::Comment => "COMMENT",
            other => return Outcome::Failed(format!("`{other}` is not a review")),
        };
        let text = p.body.clone().unwrap_or_default();
        let body = serde_json::json!({
            "commit_id": p.sha,
            "event": event,
            "body": format!("{text}\n\n{}", marker(&a.idempotency_key)).trim().to_string(),
        });
        match self
            .gh
            .send(reqwest::Method::POST, &format!("{path}/reviews"), &body)
            .await
        {
            Ok(v) => Outcome::Applied(format!(
                "review {} ({})",
                v["id"],
                v["state"].as_str().unwrap_or("?")
            )),
            Err(e) => outcome_of(e),
        }
    }
}
