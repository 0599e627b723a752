//! The team: who its members are (`[team]` in the config), which teams they form, and who may
//! take the decisions a team restricts — approving or rejecting a release to an environment,
//! and merging over the merge policy. Every front end asks here, through the core decisions
//! (`outbox::decide`, `releases::decide`), so the CLI, the API and the desktop refuse alike,
//! naming the rule.
//!
//! ```toml
//! [team.members.alice]
//! name = "Alice Martin"
//! emails = ["alice@acme.dev"]
//! [team.members.bob]
//! name = "Bob Chen"
//! [team.teams]
//! platform = ["alice", "bob"]
//! [team.release_approvers]
//! production = ["alice", "team:platform"]
//! staging = ["*"]
//! [team]
//! policy_overriders = ["alice"]
//! ```
//!
//! Without `[team]` (one lead on one machine) nothing is restricted. With members, a decision
//! these rules cover is refused to anyone who is not a member, and to a member the rule for it
//! does not name; an environment with no rule is open to every member.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[team]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Members by id (the short name used in the rules and `access code --for`).
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    /// Teams by name: their members' ids.
    #[serde(default)]
    pub teams: BTreeMap<String, Vec<String>>,
    /// Per environment, who may approve or reject its releases: member ids, `team:NAME`, `*`.
    #[serde(default)]
    pub release_approvers: BTreeMap<String, Vec<String>>,
    /// Who may merge a change the policy refuses (with a reason); `None`: every member.
    #[serde(default)]
    pub policy_overriders: Option<Vec<String>>,
}

/// `[team.members.ID]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The name decisions carry in the audit log; the id when left out.
    pub name: Option<String>,
    /// The git identities that are this person's (matched without case).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Their login on the forge (GitHub), as review requests name them.
    pub github: Option<String>,
}

/// Someone taking a decision: a member of the team (`id`), or, without one, just a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: Option<String>,
    pub name: String,
    pub email: String,
}

impl Person {
    /// Someone known only by name (no `[team]`, or not a member).
    pub fn named(name: &str) -> Self {
        Person {
            id: None,
            name: name.to_string(),
            email: format!("{name}@localhost"),
        }
    }
}

/// Who takes a decision, with the team rules it is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a> {
    pub person: &'a Person,
    pub team: &'a Config,
}

impl<'a> Acting<'a> {
    /// `person` with no team rules: everything allowed (one lead, tests).
    pub fn alone(person: &'a Person) -> Self {
        static NONE: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        Acting {
            person,
            team: NONE.get_or_init(Config::default),
        }
    }
}

/// A decision the team rules do not allow this person, with the rule that says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not {what}: {rule}")]
pub struct Refusal {
    pub who: String,
    pub what: String,
    pub rule: String,
}

impl Config {
    /// Whether the team restricts anything (it names members).
    pub fn is_set(&self) -> bool {
        !self.members.is_empty()
    }

    /// The member with id `id`.
    pub fn member(&self, id: &str) -> Option<Person> {
        let m = self.members.get(id)?;
        Some(Person {
            id: Some(id.to_string()),
            name: m.name.clone().unwrap_or_else(|| id.to_string()),
            email: m
                .emails
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{id}@localhost")),
        })
    }

    /// The person behind this machine's identity (`FLIGHTDECK_USER` or git's `user.name` and
    /// `user.email`), or a name in the records (a pull request's author): the member whose id,
    /// name or forge login is `name` or who has `email`, else just them.
    pub fn person(&self, name: &str, email: &str) -> Person {
        let found = self.members.iter().find(|(id, m)| {
            id.as_str() == name
                || m.name.as_deref() == Some(name)
                || m.github
                    .as_deref()
                    .is_some_and(|g| g.eq_ignore_ascii_case(name))
                || m.emails.iter().any(|e| e.eq_ignore_ascii_case(email))
        });
        match found.and_then(|(id, _)| self.member(id)) {
            Some(mut p) => {
                p.email = email.to_string();
                p
            }
            None => Person {
                id: None,
                name: name.to_string(),
                email: email.to_string(),
            },
        }
    }

    /// Every name `who` goes by in the records (lower case): their member id, name, forge
    /// login, and the local part of their email.
    pub fn names_of(&self, who: &Person) -> Vec<String> {
        let mut names = vec![who.name.to_lowercase()];
        if let Some(id) = &who.id {
            names.push(id.to_lowercase());
            if let Some(login) = self.members.get(id).and_then(|m| m.github.as_ref()) {
                names.push(login.to_lowercase());
            }
        }
        if let Some((local, _)) = who.email.split_once('@') {
            names.push(local.to_lowercase());
        }
        names.sort();
        names.dedup();
        names
    }

    /// The team names `id` belongs to.
    pub fn teams_of(&self, id: &str) -> Vec<String> {
        self.teams
            .iter()
            .filter(|(_, ids)| ids.iter().any(|m| m == id))
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Whether `who` may approve or reject releases to `environment`.
    pub fn may_decide_release(&self, who: &Person, environment: &str) -> Result<(), Refusal> {
        let what = format!("approve or reject releases to {environment}");
        let rule = self.release_approvers.get(environment);
        self.check(
            who,
            &what,
            rule,
            &format!("[team.release_approvers] {environment}"),
        )
    }

    /// Whether `who` may merge over the merge policy.
    pub fn may_override(&self, who: &Person) -> Result<(), Refusal> {
        self.check(
            who,
            "merge over the merge policy",
            self.policy_overriders.as_ref(),
            "[team] policy_overriders",
        )
    }

    fn check(
        &self,
        who: &Person,
        what: &str,
        rule: Option<&Vec<String>>,
        rule_name: &str,
    ) -> Result<(), Refusal> {
        if !self.is_set() {
            return Ok(());
        }
        let refuse = |rule: String| Refusal {
            who: who.name.clone(),
            what: what.to_string(),
            rule,
        };
        let Some(id) = &who.id else {
            return Err(refuse(format!(
                "only members of [team] may (members: {})",
                self.members.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        let Some(allowed) = rule else {
            return Ok(());
        };
        let teams = self.teams_of(id);
        let ok = allowed.iter().any(|a| {
            a == "*"
                || a == id
                || a.strip_prefix("team:")
                    .is_some_and(|t| teams.iter().any(|m| m == t))
        });
        if ok {
            Ok(())
        } else {
            Err(refuse(format!("{rule_name} = {allowed:?}")))
        }
    }

    /// Names every rule entry that is neither `*`, a member nor `team:` of a known team, and
    /// every team member that is not a member: one line each, for the config's error.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (team, ids) in &self.teams {
            for id in ids.iter().filter(|id| !self.members.contains_key(*id)) {
                out.push(format!(
                    "[team.teams] {team}: `{id}` is not in [team.members]"
                ));
            }
        }
        let rules = self
            .release_approvers
            .iter()
            .map(|(env, who)| (format!("[team.release_approvers] {env}"), who))
            .chain(
                self.policy_overriders
                    .iter()
                    .map(|who| ("[team] policy_overriders".to_string(), who)),
            );
        for (rule, who) in rules {
            for entry in who {
                let known = entry == "*"
                    || self.members.contains_key(entry)
                    || entry
                        .strip_prefix("team:")
                        .is_some_and(|t| self.teams.contains_key(t));
                if !known {
                    out.push(format!(
                        "{rule}: `{entry}` is not a member, `team:NAME` of [team.teams], or `*`"
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Config {
        toml::from_str(
            r#"
            policy_overriders = ["alice"]
            [members.alice]
            name = "Alice Martin"
            emails = ["alice@acme.dev"]
            [members.bob]
            name = "Bob Chen"
            [members.carol]
            [teams]
            platform = ["bob"]
            [release_approvers]
            production = ["alice", "team:platform"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn rules_name_members_and_teams() {
        let t = team();
        let bob = t.member("bob").unwrap();
        let carol = t.member("carol").unwrap();
        assert_eq!(t.may_decide_release(&bob, "production"), Ok(()));
        let no = t.may_decide_release(&carol, "production").unwrap_err();
        assert_eq!(
            no.to_string(),
            "carol may not approve or reject releases to production: \
             [team.release_approvers] production = [\"alice\", \"team:platform\"]"
        );
        // No rule for staging: any member.
        assert_eq!(t.may_decide_release(&carol, "staging"), Ok(()));
        assert!(t.may_override(&bob).is_err());
        assert_eq!(t.may_override(&t.member("alice").unwrap()), Ok(()));
    }

    #[test]
    fn outsiders_are_refused_and_no_team_refuses_nobody() {
        let t = team();
        let eve = t.person("Eve", "eve@elsewhere.dev");
        assert_eq!(eve.id, None);
        let no = t.may_decide_release(&eve, "staging").unwrap_err();
        assert!(no.rule.contains("only members of [team]"), "{no}");
        assert_eq!(Config::default().may_override(&eve), Ok(()));
    }

    #[test]
    fn this_machines_user_is_found_by_email_or_name() {
        let t = team();
        assert_eq!(
            t.person("alice m", "ALICE@acme.dev").id.as_deref(),
            Some("alice")
        );
        assert_eq!(t.person("Bob Chen", "b@x").id.as_deref(), Some("bob"));
        assert_eq!(t.person("carol", "c@x").name, "carol");
    }

    #[test]
    fn unknown_names_in_rules_are_reported() {
        let mut t = team();
        t.release_approvers
            .insert("staging".into(), vec!["dave".into(), "team:web".into()]);
        t.teams.insert("web".into(), vec!["erin".into()]);
        let p = t.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("`erin` is not in [team.members]"));
        assert!(p[1].contains("`dave`"));
    }
}
