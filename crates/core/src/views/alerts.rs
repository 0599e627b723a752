//! Which inbox items deserve a desktop notification: each session that waits for its user
//! ("needs you") once, when it starts waiting — the alert is forgotten when the session moves
//! on, so the same session waiting again later alerts again — and each budget threshold
//! crossed while the app runs (a threshold fires once a month in the store, so one crossed
//! before a restart is not shown again after it). The desktop shell feeds every fresh inbox to
//! `Alerts::update` and shows what it returns.

use std::collections::HashSet;

use crate::views::{InboxItem, InboxKind};

#[derive(Debug, Default)]
pub struct Alerts {
    /// Items alerted and still waiting: id plus the time they started waiting.
    shown: HashSet<String>,
    /// Budget alerts fired before this moment are not news.
    since: i64,
    budgets_shown: HashSet<String>,
}

impl Alerts {
    /// Alerts for a shell started at `now`.
    pub fn since(now: i64) -> Self {
        Alerts {
            since: now,
            ..Default::default()
        }
    }

    /// The items to notify about now, given the whole current inbox.
    pub fn update(&mut self, inbox: &[InboxItem]) -> Vec<InboxItem> {
        let waiting: Vec<&InboxItem> = inbox
            .iter()
            .filter(|i| i.kind == InboxKind::NeedsYou)
            .collect();
        let mut fresh: Vec<InboxItem> = waiting
            .iter()
            .filter(|i| !self.shown.contains(&key(i)))
            .map(|i| (*i).clone())
            .collect();
        // Sessions no longer waiting drop out here: that is what clears their alert.
        self.shown = waiting.iter().map(|i| key(i)).collect();
        for b in inbox
            .iter()
            .filter(|i| i.kind == InboxKind::Budget && i.at >= self.since)
        {
            if self.budgets_shown.insert(b.id.clone()) {
                fresh.push(b.clone());
            }
        }
        fresh
    }
}

/// A session waiting since a given moment: a later wait is a new alert.
fn key(item: &InboxItem) -> String {
    format!("{}@{}", item.id, item.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, kind: InboxKind, at: i64) -> InboxItem {
        InboxItem {
            id: id.into(),
            kind,
            title: format!("{id} is waiting"),
            detail: String::new(),
            repo: String::new(),
            view: "agents".into(),
            at,
        }
    }

    #[test]
    fn each_wait_alerts_once_and_clears_when_the_session_moves_on() {
        let mut alerts = Alerts::default();
        let review = item("review:1", InboxKind::Review, 5);
        let a = item("needs-you:claude-code:a", InboxKind::NeedsYou, 100);
        let b = item("needs-you:codex:b", InboxKind::NeedsYou, 200);

        let ids = |v: Vec<InboxItem>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
        // Only "needs you" items alert, each once.
        assert_eq!(
            ids(alerts.update(&[review.clone(), a.clone()])),
            vec![a.id.clone()]
        );
        assert!(alerts.update(&[review.clone(), a.clone()]).is_empty());
        // A second session starts waiting: only it alerts.
        assert_eq!(
            ids(alerts.update(&[a.clone(), b.clone()])),
            vec![b.id.clone()]
        );
        // `a` moves on (leaves the inbox), then waits again later: a new alert.
        assert!(alerts.update(std::slice::from_ref(&b)).is_empty());
        let a_again = item(&a.id, InboxKind::NeedsYou, 400);
        assert_eq!(
            ids(alerts.update(&[a_again.clone(), b.clone()])),
            vec![a.id.clone()]
        );
        // Even without leaving the inbox in between, a newer wait is a new alert.
        let b_later = item(&b.id, InboxKind::NeedsYou, 500);
        assert_eq!(ids(alerts.update(&[a_again, b_later])), vec![b.id]);
    }

    #[test]
    fn budget_thresholds_alert_once_and_only_when_crossed_while_running() {
        let mut alerts = Alerts::since(1_000);
        let old = item("budget:team:2026-11:50", InboxKind::Budget, 900);
        let new = item("budget:team:2026-11:80", InboxKind::Budget, 1_100);
        let ids = |v: Vec<InboxItem>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(
            ids(alerts.update(&[old.clone(), new.clone()])),
            vec![new.id.clone()]
        );
        assert!(alerts.update(&[old, new]).is_empty());
    }
}
