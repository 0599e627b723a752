//! The demo's GitHub: the same local fake the tests use (`fakehub`), with open pull requests
//! on the demo repos — from people, a bot and agents, with checks in every state — and a rate
//! limit that runs low, so the review loop can be tried without an account.

use anyhow::{Context, Result};
use fakehub::{Hub, Pr};
use flightdeck_core::config::demo_keys;
use flightdeck_core::demo::DemoWorkspace;

/// Starts the fake GitHub, points each demo repo's `origin` at it, and returns its API URL.
pub async fn start(ws: &DemoWorkspace, now: i64) -> Result<(Hub, String)> {
    let hub = Hub::new();
    let url = hub
        .serve(0)
        .await
        .context("starting the demo's fake GitHub")?;
    let host = flightdeck_core::forge::github::forge_host(&url);
    let names: Vec<String> = ws
        .repos
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    for (path, name) in ws.repos.iter().zip(&names) {
        let repo = git2::Repository::open(path)?;
        let remote = format!("http://{host}/acme/{name}.git");
        if repo.find_remote("origin").is_ok() {
            repo.remote_set_url("origin", &remote)?;
        } else {
            repo.remote("origin", &remote)?;
        }
    }
    let day = |d: i64| {
        chrono::DateTime::from_timestamp(now - d * 3_600, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let sha = |n: u64| format!("{:040x}", 0xdead_beef_u64 * n);
    let prs: [(usize, u64, &str, &str, &str, i64); 5] = [
        (
            0,
            101,
            "Bump axum from 0.7 to 0.8",
            "dependabot[bot]",
            "dependabot/cargo/axum-0.8",
            30,
        ),
        (
            0,
            102,
            "Document the public API with OpenAPI",
            "alice-martin",
            "docs/openapi",
            6,
        ),
        (
            1,
            57,
            "Fix flaky date test in the checkout form",
            "codex-agent",
            "codex/flaky-date-test",
            3,
        ),
        (
            2,
            12,
            "Make refunds idempotent",
            "claude-agent",
            "claude/idempotent-refunds",
            2,
        ),
        (
            2,
            13,
            "Upgrade the Stripe client",
            "bob-chen",
            "deps/stripe-12",
            20,
        ),
    ];
    for (i, number, title, author, head, hours) in prs {
        let Some(name) = names.get(i) else { continue };
        let full = format!("acme/{name}");
        let mut pr = Pr::new(number, title, author, head, &sha(number));
        pr.created_at = day(hours + 4);
        pr.updated_at = day(hours);
        pr.additions = 12 * number % 140 + 8;
        pr.deletions = 5 * number % 40;
        pr.changed_files = number % 7 + 1;
        pr.commits = number % 4 + 1;
        // Labels, a review asked of the demo's login ("lead"), and one that conflicts.
        pr.labels = match head.split('/').next() {
            Some("dependabot" | "deps") => vec!["dependencies".into()],
            Some("docs") => vec!["documentation".into()],
            _ => vec!["agent".into()],
        };
        if number == 102 {
            pr.requested_reviewers = vec!["lead".into()];
        }
        pr.mergeable = number != 13;
        hub.add_pull(&full, pr);
        let checks: &[(&str, &str, Option<&str>)] = match number % 4 {
            1 => &[
                ("build", "completed", Some("success")),
                ("test", "completed", Some("success")),
            ],
            2 => &[
                ("build", "completed", Some("success")),
                ("test", "in_progress", None),
            ],
            3 => &[
                ("build", "completed", Some("success")),
                ("test", "completed", Some("failure")),
            ],
            _ => &[("build", "queued", None)],
        };
        hub.set_check_runs(&full, &sha(number), checks);
        hub.set_statuses(
            &full,
            &sha(number),
            &[(
                "ci/lint",
                if number % 2 == 0 {
                    "pending"
                } else {
                    "success"
                },
            )],
        );
    }
    // Issues of the first repo: work items on the board, one a person has, one labelled for
    // an agent; their assignees change through the outbox.
    if let Some(name) = names.first() {
        let full = format!("acme/{name}");
        for login in ["alice-martin", "bob-chen", "carol-diaz"] {
            hub.add_collaborator(&full, login);
        }
        let mut i = fakehub::Issue::new(
            21,
            "Pagination links are wrong past page 10",
            "The `next` link repeats page 10.",
        );
        i.assignees = vec!["bob-chen".into()];
        i.labels = vec!["bug".into()];
        i.created_at = day(30);
        i.updated_at = day(5);
        hub.add_issue(&full, i);
        let mut i = fakehub::Issue::new(
            22,
            "Add request ids to every log line",
            "Generate one per request, pass it down, print it with each line.",
        );
        i.labels = vec!["agent:claude".into(), "enhancement".into()];
        i.created_at = day(20);
        i.updated_at = day(2);
        hub.add_issue(&full, i);
    }
    // A rate limit running low: the Changes view shows what is left and when it resets.
    hub.set_rate_limit(140, now + 45 * 60);
    Ok((hub, url))
}

/// The demo's vendor billing: local fakes of Anthropic's and OpenAI's cost reports billing what
/// the demo's logs cost plus 12 % (work the watched machines did not see), fetched once now so
/// the reconciliation shows at once; returns the fake (keep it alive) and its URL.
pub async fn start_billing(
    store: &flightdeck_core::store::Store,
    now: i64,
) -> Result<(fakehub::billing::Billing, String)> {
    use flightdeck_core::sources::billing::{self, CostApi, Vendor};
    let fake = fakehub::billing::Billing::new(demo_keys::ANTHROPIC_ADMIN, demo_keys::OPENAI_ADMIN);
    for r in store
        .spend_records()
        .await?
        .iter()
        .filter(|r| r.source == "logs")
    {
        let Ok(day) = chrono::NaiveDate::parse_from_str(&r.day, "%Y-%m-%d") else {
            continue;
        };
        let billed = r.cost_usd * 1.12;
        match r.vendor.as_str() {
            "anthropic" => fake.add_anthropic(
                day,
                &r.model,
                "output_tokens",
                &format!("{:.4}", billed * 100.0),
            ),
            "openai" => fake.add_openai(day, &format!("{}, output", r.model), None, billed),
            _ => {}
        }
    }
    let url = fake
        .serve(0)
        .await
        .context("starting the demo's fake billing APIs")?;
    let apis = vec![
        CostApi::new(Vendor::Anthropic, &url, demo_keys::ANTHROPIC_ADMIN.into())?,
        CostApi::new(Vendor::OpenAi, &url, demo_keys::OPENAI_ADMIN.into())?,
    ];
    for api in &apis {
        billing::sync(api, store, now).await?;
    }
    Ok((fake, url))
}

/// The demo GrowthBook's secret key (the fake's; never the user's).
pub const GROWTHBOOK_KEY: &str = demo_keys::GROWTHBOOK;

/// The demo's GrowthBook: a local fake of its REST API holding the demo's three experiments
/// (`demo::experiments`), with the demo's own key, read once now so the Experiments view shows
/// at once; returns the fake (keep it alive) and the client the runtime syncs with.
pub async fn start_growthbook(
    store: &flightdeck_core::store::Store,
    now: i64,
) -> Result<(
    fakehub::growthbook::GrowthBook,
    flightdeck_core::sources::growthbook::GrowthBookApi,
)> {
    use fakehub::growthbook::{Cell, Experiment, GrowthBook, Metric};
    use flightdeck_core::model::MetricKind;
    use flightdeck_core::sources::growthbook::{self, GrowthBookApi};
    let fake = GrowthBook::new(GROWTHBOOK_KEY);
    let iso = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    for (k, d) in flightdeck_core::demo::experiments(now)
        .into_iter()
        .enumerate()
    {
        let e = &d.experiment;
        let ids: Vec<String> = (0..e.variants.len())
            .map(|v| format!("var_{k}_{v}"))
            .collect();
        let pairs: Vec<(&str, &str)> = ids
            .iter()
            .zip(&e.variants)
            .map(|(id, v)| (id.as_str(), v.name.as_str()))
            .collect();
        let mut x = Experiment::new(&format!("exp_demo{k}"), &e.id, &e.name, &pairs);
        x.weights = e.variants.iter().map(|v| v.weight.unwrap_or(0.5)).collect();
        x.date_started = iso(e.started_at);
        x.date_updated = iso(now);
        x.linked_features = d
            .keys
            .iter()
            .filter(|k| k.kind == "flag")
            .map(|k| k.key.clone())
            .collect();
        let metric_id = |name: &str| format!("met_{name}");
        for m in &d.metrics {
            fake.put_metric(Metric {
                id: metric_id(&m.name),
                name: m.name.clone(),
                kind: if m.kind == MetricKind::Binomial {
                    "binomial".into()
                } else {
                    "duration".into()
                },
                inverse: m.inverse,
            });
            if m.guardrail {
                x.guardrails.push(metric_id(&m.name));
            } else {
                x.goals.push(metric_id(&m.name));
            }
        }
        // Per metric id, a cell per variation, from sums as the store keeps them.
        let cells_of = |sums: &[flightdeck_core::model::MetricSums]| -> Vec<(String, Vec<Cell>)> {
            d.metrics
                .iter()
                .map(|m| {
                    let per_variation = e
                        .variants
                        .iter()
                        .map(|v| {
                            let s = sums
                                .iter()
                                .find(|s| s.metric == m.name && s.variation == v.name);
                            match s {
                                None => Cell::binomial(0.0, 0.0),
                                Some(s) if m.kind == MetricKind::Binomial => {
                                    Cell::binomial(s.n, s.sum.min(s.n))
                                }
                                Some(s) if s.n < 2.0 => Cell::mean(s.n, s.sum / s.n.max(1.0), 0.0),
                                Some(s) => {
                                    let mean = s.sum / s.n;
                                    let var = (s.sum_squares - s.sum * s.sum / s.n) / (s.n - 1.0);
                                    Cell::mean(s.n, mean, var.max(0.0).sqrt())
                                }
                            }
                        })
                        .collect();
                    (metric_id(&m.name), per_variation)
                })
                .collect()
        };
        let cells = cells_of(&d.sums);
        // By the day of first exposure, as GrowthBook's date dimension gives it: each day's
        // units are the day's total less the day before's.
        let mut before: Vec<flightdeck_core::model::MetricSums> = vec![];
        for p in &d.history {
            let increments: Vec<_> = p
                .sums
                .iter()
                .map(|s| {
                    let b = before
                        .iter()
                        .find(|b| b.metric == s.metric && b.variation == s.variation);
                    let mut s = s.clone();
                    if let Some(b) = b {
                        s.n -= b.n;
                        s.sum -= b.sum;
                        s.sum_squares -= b.sum_squares;
                    }
                    s
                })
                .collect();
            x.by_date.push((p.day.clone(), cells_of(&increments)));
            before = p.sums.clone();
        }
        let id = x.id.clone();
        fake.put_experiment(x);
        fake.set_results(&id, &format!("snp_demo{k}"), cells);
    }
    let url = fake
        .serve(0)
        .await
        .context("starting the demo's fake GrowthBook")?;
    let api = GrowthBookApi::new(&url, GROWTHBOOK_KEY.into())?;
    let s = growthbook::sync(&api, store).await?;
    if let Some(e) = s.errors.first() {
        anyhow::bail!("the demo's GrowthBook: {e}");
    }
    Ok((fake, api))
}

/// The demo's notification receivers (a webhook that checks the demo's signature, an ntfy
/// server, a Slack workspace, an SMTP server requiring STARTTLS, whose CA goes in `dir`) and
/// the `[notify]` section routing the inbox's events to them; returns the receivers (keep them
/// alive) and the section.
pub async fn start_receivers(
    dir: &std::path::Path,
) -> Result<(
    (
        fakehub::receivers::Receiver,
        fakehub::receivers::Receiver,
        fakehub::slack::Slack,
        fakehub::smtp::Smtp,
    ),
    flightdeck_core::notify::Config,
)> {
    use flightdeck_core::notify::{ChannelConfig, Config, Rule};
    let hook = fakehub::receivers::Receiver::webhook(demo_keys::NOTIFY_SECRET);
    let hook_url = hook
        .serve_webhook(0)
        .await
        .context("starting the demo's webhook receiver")?;
    let phone = fakehub::receivers::Receiver::ntfy(None);
    let phone_url = phone
        .serve_ntfy(0, "demo-leads")
        .await
        .context("starting the demo's ntfy server")?;
    let slack = fakehub::slack::Slack::new(demo_keys::NOTIFY_SECRET, &["C0DEMOLEADS"]);
    let slack_api = slack.serve(0).await.context("starting the demo's Slack")?;
    let smtp = fakehub::smtp::Smtp::new(true, Some(("flightdeck", demo_keys::NOTIFY_SECRET)))
        .map_err(|e| anyhow::anyhow!("starting the demo's SMTP server: {e}"))?;
    let smtp_addr = smtp
        .serve(0)
        .await
        .context("starting the demo's SMTP server")?;
    let ca_file = dir.join("smtp-ca.pem");
    std::fs::write(&ca_file, smtp.ca_pem())
        .with_context(|| format!("cannot write {}", ca_file.display()))?;
    let config = Config {
        channels: [
            (
                "team-hook".to_string(),
                ChannelConfig::Webhook {
                    url: hook_url,
                    secret_env: None,
                },
            ),
            (
                "phone".to_string(),
                ChannelConfig::Ntfy {
                    url: phone_url,
                    token_env: None,
                },
            ),
            (
                "leads".to_string(),
                ChannelConfig::Slack {
                    channel: "C0DEMOLEADS".into(),
                    token_env: None,
                    api_url: Some(slack_api),
                },
            ),
            (
                "mail".to_string(),
                ChannelConfig::Email {
                    smtp: smtp_addr.to_string(),
                    from: "Flightdeck demo <flightdeck@demo.invalid>".into(),
                    to: vec!["lead@demo.invalid".into()],
                    username: Some("flightdeck".into()),
                    password_env: None,
                    tls: None,
                    ca_file: Some(ca_file),
                },
            ),
        ]
        .into(),
        rules: vec![
            Rule {
                events: vec!["*".into()],
                repos: Vec::new(),
                channels: vec!["team-hook".into()],
            },
            Rule {
                events: [
                    "needs_you",
                    "release_gate",
                    "failed_deploy",
                    "action_failed",
                ]
                .map(String::from)
                .to_vec(),
                repos: Vec::new(),
                channels: vec!["phone".into()],
            },
            Rule {
                events: [
                    "needs_you",
                    "release_gate",
                    "green_waiting",
                    "review_requested",
                ]
                .map(String::from)
                .to_vec(),
                repos: Vec::new(),
                channels: vec!["leads".into()],
            },
            Rule {
                events: ["failed_deploy", "action_failed", "budget"]
                    .map(String::from)
                    .to_vec(),
                repos: Vec::new(),
                channels: vec!["mail".into()],
            },
        ],
        ..Default::default()
    };
    Ok(((hook, phone, slack, smtp), config))
}
