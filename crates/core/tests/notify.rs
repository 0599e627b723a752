//! Notifications out, against local receivers (fakehub's webhook, which checks the signature
//! with its own HMAC, and its ntfy server): each channel's shape, once-only across a restart and
//! across two instances on one database, retries with backoff, the digest past the hourly limit,
//! quiet hours, an update when an item leaves the inbox, and a channel that is down delaying only
//! its own messages.

mod support;

use fakehub::receivers::{Receiver, ReceiverFault};
use flightdeck_core::model::{Release, ReleaseState};
use flightdeck_core::notify::{self, channels, Config, Notifier};
use flightdeck_core::store::Store;
use support::TestDb;

const SECRET: &str = "whsec-test-1";
const TOKEN: &str = "tk_test_phone";

fn config(text: &str) -> Config {
    let c: Config = toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(c.problem(), None);
    c
}

/// Each channel's own secret, as the keyring or environment would give it.
fn secrets(channel: &str, _: &notify::ChannelConfig) -> Option<String> {
    match channel {
        "ops" => Some(SECRET.into()),
        "phone" => Some(TOKEN.into()),
        _ => None,
    }
}

fn notifier(c: &Config) -> Notifier {
    let (chs, warnings) = channels::open(c, &secrets);
    assert!(warnings.is_empty(), "{warnings:?}");
    Notifier::new(c, chs, warnings)
}

fn release(id: &str, repo: &str, at: i64) -> Release {
    Release {
        id: id.into(),
        repo: repo.into(),
        environment: "production".into(),
        name: format!("v{id}"),
        state: ReleaseState::Pending,
        created_at: at,
        approved_by: None,
        sha: None,
        run_id: None,
        decided_at: None,
        reason: None,
    }
}

async fn receivers() -> (Receiver, String, Receiver, String) {
    let hook = Receiver::webhook(SECRET);
    let hook_url = hook.serve_webhook(0).await.unwrap();
    let phone = Receiver::ntfy(Some(TOKEN));
    let phone_url = phone.serve_ntfy(0, "acme-leads").await.unwrap();
    (hook, hook_url, phone, phone_url)
}

fn two_channels(hook_url: &str, phone_url: &str, extra: &str) -> Config {
    config(&format!(
        r#"
link_base = "https://flightdeck.acme.dev/"
{extra}
[channels.ops]
kind = "webhook"
url = "{hook_url}"
[channels.phone]
kind = "ntfy"
url = "{phone_url}"
[[rules]]
events = ["release_gate", "failed-deploy"]
channels = ["ops"]
[[rules]]
events = ["release_gate"]
repos = ["api"]
channels = ["phone"]
"#
    ))
}

async fn each_channel_gets_its_shape_once_and_an_update_when_resolved(db: TestDb) {
    let (hook, hook_url, phone, phone_url) = receivers().await;
    let c = two_channels(&hook_url, &phone_url, "");
    let n = notifier(&c);
    // The first pass starts the channels' news: what was waiting before is not sent.
    db.store
        .upsert_release(&release("old", "github.com/acme/api", 900))
        .await
        .unwrap();
    assert_eq!(n.pass(&db.store, 1_000).await.unwrap().sent, 0);

    db.store
        .upsert_release(&release("r1", "github.com/acme/api", 1_100))
        .await
        .unwrap();
    db.store
        .upsert_release(&release("r2", "github.com/acme/web", 1_150))
        .await
        .unwrap();
    let r = n.pass(&db.store, 1_200).await.unwrap();
    assert_eq!((r.sent, r.failed.len()), (3, 0), "{r:?}");

    let got = hook.accepted();
    assert_eq!(got.len(), 2, "{got:?}");
    for g in &got {
        assert!(g.signed, "the receiver's own HMAC disagrees: {g:?}");
        assert_eq!(g.body["type"], "notification");
        assert_eq!(g.body["event"], "release_gate");
        assert_eq!(g.body["link"], "https://flightdeck.acme.dev/#/releases");
        assert!(
            g.body["id"].as_str().unwrap().starts_with("ops/release:r"),
            "{g:?}"
        );
        assert!(
            g.id.len() == 32 && g.id.chars().all(|c| c.is_ascii_hexdigit()),
            "delivery id {}",
            g.id
        );
    }
    let titles: Vec<&str> = got
        .iter()
        .map(|g| g.body["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Approve release vr1 to production"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Approve release vr2 to production"),
        "{titles:?}"
    );

    // ntfy: only the `api` repo's release, as JSON publishing, with the channel's token.
    let pushed = phone.accepted();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let p = &pushed[0];
    assert_eq!(p.token.as_deref(), Some(TOKEN));
    assert_eq!(p.body["topic"], "acme-leads");
    assert_eq!(p.body["title"], "Approve release vr1 to production");
    assert_eq!(p.body["priority"], 4);
    assert_eq!(p.body["click"], "https://flightdeck.acme.dev/#/releases");
    let stored = db.store.recent_notifications(10).await.unwrap();
    let ntfy_row = stored.iter().find(|s| s.channel == "phone").unwrap();
    assert_eq!(ntfy_row.message_ref.as_deref(), Some(p.id.as_str()));

    // Again, and after a restart: nothing new.
    assert_eq!(n.pass(&db.store, 1_260).await.unwrap().sent, 0);
    let restarted = Store::open(&db.url).await.unwrap();
    let again = notifier(&c);
    assert_eq!(again.pass(&restarted, 1_320).await.unwrap().sent, 0);
    assert_eq!(hook.received().len(), 2);
    assert_eq!(phone.received().len(), 1);

    // r1 approved: the webhook's message is updated once; ntfy cannot update, so it is quiet.
    let mut approved = release("r1", "github.com/acme/api", 1_100);
    approved.state = ReleaseState::Approved;
    db.store.upsert_release(&approved).await.unwrap();
    let r = again.pass(&restarted, 1_380).await.unwrap();
    assert_eq!(r.resolved, 1, "{r:?}");
    let last = hook.accepted().pop().unwrap();
    assert_eq!(last.body["type"], "resolved");
    let r1 = got
        .iter()
        .find(|g| g.body["title"] == "Approve release vr1 to production")
        .unwrap();
    assert_eq!(
        last.body["id"], r1.body["id"],
        "the update names the message it updates"
    );
    assert_ne!(last.id, r1.id, "an update is a delivery of its own");
    assert_eq!(n.pass(&db.store, 1_440).await.unwrap().resolved, 0);
    assert_eq!(phone.received().len(), 1);
    restarted.close().await;
    db.finish().await;
}
support::both!(each_channel_gets_its_shape_once_and_an_update_when_resolved);

async fn a_failed_send_is_retried_with_backoff_and_a_dead_channel_delays_only_itself(db: TestDb) {
    let (hook, hook_url, _phone, _) = receivers().await;
    // The phone's server is gone: nothing listens on its port.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/acme-leads")
    };
    let c = two_channels(&hook_url, &dead, "");
    let n = notifier(&c);
    n.pass(&db.store, 1_000).await.unwrap();
    db.store
        .upsert_release(&release("r1", "github.com/acme/api", 1_100))
        .await
        .unwrap();
    hook.push_fault(ReceiverFault::Status(500));
    let r = n.pass(&db.store, 1_200).await.unwrap();
    assert_eq!(
        (r.sent, r.failed.len()),
        (0, 2),
        "both tried, neither went: {r:?}"
    );
    assert!(
        r.failed
            .iter()
            .any(|f| f.starts_with("phone: ") && f.contains("cannot connect")),
        "{r:?}"
    );
    assert!(
        r.failed
            .iter()
            .any(|f| f.starts_with("ops: ") && f.contains("500")),
        "{r:?}"
    );

    // Not due yet (30 s after the first try), then due.
    n.pass(&db.store, 1_220).await.unwrap();
    assert_eq!(hook.received().len(), 1);
    let r = n.pass(&db.store, 1_231).await.unwrap();
    assert_eq!(hook.accepted().len(), 1, "{r:?}");
    let rows = db.store.recent_notifications(10).await.unwrap();
    let ops = rows.iter().find(|s| s.channel == "ops").unwrap();
    assert_eq!((ops.status.as_str(), ops.attempts), ("sent", 2));
    let phone = rows.iter().find(|s| s.channel == "phone").unwrap();
    assert_eq!(phone.status, "failed");
    assert_eq!(
        phone.next_try,
        Some(1_231 + 60),
        "doubling: 30 s, then 60 s"
    );

    // A 429's Retry-After is longer than the backoff: it is honoured.
    db.store
        .upsert_release(&release("r2", "github.com/acme/web", 1_300))
        .await
        .unwrap();
    hook.push_fault(ReceiverFault::RateLimited { retry_after: 600 });
    n.pass(&db.store, 1_400).await.unwrap();
    let rows = db.store.recent_notifications(10).await.unwrap();
    let r2 = rows
        .iter()
        .find(|s| s.channel == "ops" && s.subject.contains("release:r2"))
        .unwrap();
    assert_eq!((r2.status.as_str(), r2.next_try), ("failed", Some(2_000)));
    assert!(
        r2.last_error.as_deref().unwrap_or("").contains("429"),
        "{r2:?}"
    );
    db.finish().await;
}
support::both!(a_failed_send_is_retried_with_backoff_and_a_dead_channel_delays_only_itself);

async fn past_the_hourly_limit_the_rest_go_in_one_digest(db: TestDb) {
    let (hook, hook_url, _phone, phone_url) = receivers().await;
    let c = two_channels(&hook_url, &phone_url, "digest_after = 2");
    let n = notifier(&c);
    n.pass(&db.store, 1_000).await.unwrap();
    for i in 0..5 {
        db.store
            .upsert_release(&release(&format!("w{i}"), "github.com/acme/web", 1_100 + i))
            .await
            .unwrap();
    }
    let r = n.pass(&db.store, 1_200).await.unwrap();
    assert_eq!((r.sent, r.digested), (2, 3), "{r:?}");
    let got = hook.accepted();
    let kinds: Vec<&str> = got
        .iter()
        .map(|g| g.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["notification", "notification", "digest"]);
    assert_eq!(got[2].body["items"].as_array().unwrap().len(), 3);
    // Within the hour a new one is held: the next digest goes an hour after the last. An hour
    // on, a single again, and the held one in its digest.
    db.store
        .upsert_release(&release("w5", "github.com/acme/web", 1_300))
        .await
        .unwrap();
    let r = n.pass(&db.store, 1_400).await.unwrap();
    assert_eq!((r.sent, r.held, r.digested), (0, 1, 0), "{r:?}");
    assert_eq!(n.pass(&db.store, 2_000).await.unwrap().digested, 0);
    assert_eq!(hook.accepted().len(), 3);
    db.store
        .upsert_release(&release("w6", "github.com/acme/web", 5_000))
        .await
        .unwrap();
    let r = n.pass(&db.store, 5_000).await.unwrap();
    assert_eq!((r.sent, r.digested), (1, 1), "{r:?}");
    let last = hook.accepted().pop().unwrap();
    assert_eq!(last.body["type"], "digest");
    assert_eq!(
        last.body["items"][0]["title"],
        "Approve release vw5 to production"
    );
    db.finish().await;
}
support::both!(past_the_hourly_limit_the_rest_go_in_one_digest);

#[tokio::test]
async fn nothing_is_sent_in_quiet_hours_and_it_goes_out_after() {
    let db = TestDb::sqlite().await;
    let (hook, hook_url, _phone, phone_url) = receivers().await;
    // 22:00-07:00 at UTC+1 is 21:00-06:00 UTC.
    let c = two_channels(
        &hook_url,
        &phone_url,
        "quiet_hours = \"22:00-07:00\"\nutc_offset = \"+01:00\"",
    );
    let n = notifier(&c);
    let day = 20_000 * 86_400;
    let at = |h: i64, m: i64| day + h * 3_600 + m * 60;
    n.pass(&db.store, at(12, 0)).await.unwrap();
    db.store
        .upsert_release(&release("night", "github.com/acme/api", at(21, 10)))
        .await
        .unwrap();
    let r = n.pass(&db.store, at(21, 30)).await.unwrap();
    assert!(r.quiet && r.sent == 0, "{r:?}");
    assert!(n.is_quiet(at(5, 59) + 86_400));
    assert_eq!(hook.received().len(), 0);
    let r = n.pass(&db.store, at(6, 0) + 86_400).await.unwrap();
    assert_eq!((r.quiet, r.sent), (false, 2), "{r:?}");
    assert_eq!(hook.accepted().len(), 1);
    db.finish().await;
}

/// Two instances on one database (two processes of a team on PostgreSQL, or a serve and a
/// desktop on one SQLite file) run their passes at once: each notification arrives once.
async fn two_instances_racing_send_each_notification_once(db: TestDb) {
    let (hook, hook_url, phone, phone_url) = receivers().await;
    let c = two_channels(&hook_url, &phone_url, "digest_after = 100");
    let (a, b) = (notifier(&c), notifier(&c));
    let other = Store::open(&db.url).await.unwrap();
    a.pass(&db.store, 1_000).await.unwrap();
    for round in 0..4_i64 {
        for i in 0..5 {
            db.store
                .upsert_release(&release(
                    &format!("x{round}-{i}"),
                    "github.com/acme/api",
                    1_100 + round * 100 + i,
                ))
                .await
                .unwrap();
        }
        let now = 1_150 + round * 100;
        let (ra, rb) = tokio::join!(a.pass(&db.store, now), b.pass(&other, now));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.sent + rb.sent, 10, "round {round}: {ra:?} {rb:?}");
    }
    let ids = |r: &Receiver| {
        let mut v: Vec<String> = r
            .accepted()
            .into_iter()
            .map(|g| g.body["title"].to_string())
            .collect();
        v.sort();
        v
    };
    let hooks = ids(&hook);
    let mut unique = hooks.clone();
    unique.dedup();
    assert_eq!((hooks.len(), unique.len()), (20, 20), "{hooks:?}");
    let phones = ids(&phone);
    let mut unique = phones.clone();
    unique.dedup();
    assert_eq!((phones.len(), unique.len()), (20, 20), "{phones:?}");
    other.close().await;
    db.finish().await;
}
support::both!(two_instances_racing_send_each_notification_once);

#[test]
fn bad_configuration_is_refused_naming_the_key() {
    let cases = [
        (
            "[channels.ops]\nkind = \"webhook\"\nurl = \"https://h.acme.dev/x\"\n[[rules]]\nevents = [\"*\"]\nchannels = [\"opz\"]\n",
            "notify.rules[0].channels",
            "unknown channel `opz` (configured: ops)",
        ),
        (
            "[channels.ops]\nkind = \"webhook\"\nurl = \"https://h.acme.dev/x\"\n[[rules]]\nevents = [\"release\"]\nchannels = [\"ops\"]\n",
            "notify.rules[0].events",
            "unknown event `release`",
        ),
        (
            "[channels.ops]\nkind = \"webhook\"\nurl = \"http://hooks.acme.dev/x\"\n",
            "notify.channels.ops.url",
            "only over https",
        ),
        ("quiet_hours = \"10pm-7am\"\n", "notify.quiet_hours", "HH:MM-HH:MM"),
        ("utc_offset = \"CET\"\n", "notify.utc_offset", "+HH:MM"),
        (
            "[channels.s]\nkind = \"slack\"\nchannel = \"#leads\"\n",
            "notify.channels.s.channel",
            "not a Slack channel ID",
        ),
    ];
    for (text, key, says) in cases {
        let c: Config = toml::from_str(text).unwrap();
        let (k, message) = c.problem().unwrap_or_else(|| panic!("accepted: {text}"));
        assert_eq!(k, key, "{text}");
        assert!(message.contains(says), "{message}");
    }
    // An unknown kind of channel is refused by the parser, naming it.
    let err = toml::from_str::<Config>("[channels.x]\nkind = \"pager\"\nurl = \"https://a\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pager"), "{err}");
    // And through the whole config file, with the file's path.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "[notify.channels.ops]\nkind = \"webhook\"\nurl = \"https://h.acme.dev/x\"\n[[notify.rules]]\nevents = [\"*\"]\nchannels = [\"nope\"]\n",
    )
    .unwrap();
    let err = flightdeck_core::config::load(Some(file.clone()), Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&file.display().to_string()) && err.contains("notify.rules[0].channels"),
        "{err}"
    );

    // A webhook without its secret is left out with a line that says how to give it one.
    let c: Config = toml::from_str(
        "[channels.ops]\nkind = \"webhook\"\nurl = \"https://h.acme.dev/x\"\nsecret_env = \"OPS_HOOK_SECRET\"\n",
    )
    .unwrap();
    let (chs, warnings) = channels::open(&c, &|_, _| None);
    assert!(chs.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("notify.channels.ops.secret_env:")
            && warnings[0].contains("OPS_HOOK_SECRET"),
        "{warnings:?}"
    );
}

/// Slack: Block Kit posted with the bot token, untrusted text escaped, the message updated in
/// place (`chat.update` of its `ts`) when its item leaves the inbox; a refused token fails with
/// what to do; a rate limit is waited out as Slack asks.
async fn slack_posts_blocks_and_updates_the_message_in_place(db: TestDb) {
    use fakehub::slack::{Slack, SlackFault};
    let slack = Slack::new("xoxb-test-bot", &["C0LEADS"]);
    let api = slack.serve(0).await.unwrap();
    let c = config(&format!(
        r#"
link_base = "https://flightdeck.acme.dev"
digest_after = 1
[channels.leads]
kind = "slack"
channel = "C0LEADS"
api_url = "{api}"
[[rules]]
events = ["release_gate"]
channels = ["leads"]
"#
    ));
    let token = |name: &str, _: &notify::ChannelConfig| {
        (name == "leads").then(|| "xoxb-test-bot".to_string())
    };
    let (chs, warnings) = channels::open(&c, &token);
    assert!(warnings.is_empty(), "{warnings:?}");
    let n = Notifier::new(&c, chs, warnings);
    n.pass(&db.store, 1_000).await.unwrap();
    let mut r1 = release("r1", "github.com/acme/api", 1_100);
    r1.name = "<!channel> & <https://evil.example|v9>".into();
    db.store.upsert_release(&r1).await.unwrap();
    let r = n.pass(&db.store, 1_200).await.unwrap();
    assert_eq!((r.sent, r.failed.len()), (1, 0), "{r:?}");
    let posted = slack.messages();
    assert_eq!(posted.len(), 1);
    let body = &posted[0].versions[0];
    let section = body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|v9&gt;"),
        "not escaped: {section}"
    );
    assert_eq!(
        body["blocks"][2]["elements"][0]["url"],
        "https://flightdeck.acme.dev/#/releases"
    );
    let row = db.store.recent_notifications(5).await.unwrap();
    assert_eq!(row[0].message_ref.as_deref(), Some(posted[0].ts.as_str()));

    // Resolved: the same message, updated.
    r1.state = ReleaseState::Approved;
    db.store.upsert_release(&r1).await.unwrap();
    assert_eq!(n.pass(&db.store, 1_300).await.unwrap().resolved, 1);
    let posted = slack.messages();
    assert_eq!(posted.len(), 1, "a new message instead of an update");
    assert_eq!(posted[0].versions.len(), 2);
    assert!(posted[0].versions[1]["text"]
        .as_str()
        .unwrap()
        .starts_with("Resolved: "));

    // Past the hourly limit, two go in a digest; when they resolve, the digest is left alone.
    for id in ["d1", "d2", "d3"] {
        db.store
            .upsert_release(&release(id, "github.com/acme/api", 1_400))
            .await
            .unwrap();
    }
    let r = n.pass(&db.store, 1_500).await.unwrap();
    assert_eq!((r.sent, r.digested), (0, 3), "{r:?}");
    for id in ["d1", "d2", "d3"] {
        let mut d = release(id, "github.com/acme/api", 1_400);
        d.state = ReleaseState::Approved;
        db.store.upsert_release(&d).await.unwrap();
    }
    n.pass(&db.store, 1_600).await.unwrap();
    assert!(
        slack
            .calls()
            .iter()
            .filter(|(m, _)| m == "chat.update")
            .count()
            == 1,
        "{:?}",
        slack.calls()
    );

    // A refused token names what to do; a rate limit's Retry-After is honoured.
    let wrong = |_: &str, _: &notify::ChannelConfig| Some("xoxb-revoked".to_string());
    let (chs, _) = channels::open(&c, &wrong);
    let bad = Notifier::new(&c, chs, Vec::new());
    db.store
        .upsert_release(&release("r2", "github.com/acme/api", 5_000))
        .await
        .unwrap();
    let r = bad.pass(&db.store, 5_000).await.unwrap();
    assert!(
        r.failed
            .iter()
            .any(|f| f.contains("invalid_auth") && f.contains("flightdeck notify secret")),
        "{r:?}"
    );
    slack.push_fault(SlackFault::RateLimited { retry_after: 90 });
    let r = n.pass(&db.store, 5_040).await.unwrap();
    assert!(r.failed.iter().any(|f| f.contains("ratelimited")), "{r:?}");
    let rows = db.store.recent_notifications(20).await.unwrap();
    let r2 = rows
        .iter()
        .find(|s| s.subject.contains("release:r2"))
        .unwrap();
    assert_eq!(r2.next_try, Some(5_040 + 90));
    assert_eq!(n.pass(&db.store, 5_131).await.unwrap().sent, 1);
    // A digest of many long titles stays within Block Kit's limits (the fake refuses more).
    for i in 0..60 {
        let mut long = release(&format!("long{i}"), "github.com/acme/api", 9_000);
        long.name = format!("{i}-{}", "&<x>".repeat(60));
        db.store.upsert_release(&long).await.unwrap();
    }
    let r = n.pass(&db.store, 9_100).await.unwrap();
    assert_eq!((r.sent + r.digested, r.failed.len()), (60, 0), "{r:?}");
    assert!(r.digested >= 59, "{r:?}");
    let digest = slack.messages().pop().unwrap();
    let shown = digest.versions[0]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap();
    assert!(
        shown.chars().count() <= 3_000 && shown.ends_with('…'),
        "{}",
        shown.len()
    );

    db.finish().await;
}
support::both!(slack_posts_blocks_and_updates_the_message_in_place);

/// What the inbox held when a channel began is not news; it is sent if it leaves and comes
/// back (the next round, a new delivery id). An open change's item is one notification
/// whatever its kind does.
async fn what_was_there_is_sent_only_when_it_comes_back(db: TestDb) {
    let (hook, hook_url, _phone, phone_url) = receivers().await;
    let c = two_channels(&hook_url, &phone_url, "");
    let n = notifier(&c);
    let mut r = release("r0", "github.com/acme/web", 900);
    db.store.upsert_release(&r).await.unwrap();
    assert_eq!(n.pass(&db.store, 1_000).await.unwrap().sent, 0);
    assert_eq!(n.pass(&db.store, 1_100).await.unwrap().sent, 0);
    r.state = ReleaseState::Approved;
    db.store.upsert_release(&r).await.unwrap();
    let gone = n.pass(&db.store, 1_200).await.unwrap();
    assert_eq!(
        (gone.sent, gone.resolved),
        (0, 0),
        "nothing was sent to update: {gone:?}"
    );
    r.state = ReleaseState::Pending;
    db.store.upsert_release(&r).await.unwrap();
    assert_eq!(n.pass(&db.store, 1_300).await.unwrap().sent, 1);
    r.state = ReleaseState::Approved;
    db.store.upsert_release(&r).await.unwrap();
    assert_eq!(n.pass(&db.store, 1_400).await.unwrap().resolved, 1);
    r.state = ReleaseState::Pending;
    db.store.upsert_release(&r).await.unwrap();
    assert_eq!(n.pass(&db.store, 1_500).await.unwrap().sent, 1);
    let ids: Vec<String> = hook.accepted().iter().map(|g| g.id.clone()).collect();
    assert_eq!(ids.len(), 3, "sent, resolved, sent again");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "each delivery its own id: {ids:?}");
    assert!(ids
        .iter()
        .all(|i| i.len() == 32 && i.chars().all(|c| c.is_ascii_hexdigit())));

    let item = |kind| flightdeck_core::views::InboxItem {
        id: "review:github.com/acme/api#7".into(),
        kind,
        title: String::new(),
        detail: String::new(),
        repo: String::new(),
        view: "changes".into(),
        at: 1_000,
    };
    use flightdeck_core::views::InboxKind;
    let a = notify::subject_of(&item(InboxKind::Review));
    for k in [InboxKind::GreenWaiting, InboxKind::ReviewRequested] {
        assert_eq!(
            notify::subject_of(&InboxItem {
                at: 2_000,
                ..item(k)
            }),
            a
        );
    }
    db.finish().await;
}
support::both!(what_was_there_is_sent_only_when_it_comes_back);

/// A rule added later routes what the inbox already holds to a channel: that is not news
/// either (no flood of old items), while what comes after is.
async fn a_new_rule_does_not_flood_its_channel_with_old_items(db: TestDb) {
    let (hook, hook_url, _phone, phone_url) = receivers().await;
    let before = two_channels(&hook_url, &phone_url, "");
    notifier(&before).pass(&db.store, 1_000).await.unwrap();
    for i in 0..5 {
        db.store
            .upsert_release(&release(
                &format!("old{i}"),
                "github.com/acme/web",
                1_100 + i,
            ))
            .await
            .unwrap();
    }
    // Releases of web go nowhere but ops yet: the phone's rule names only api.
    notifier(&before).pass(&db.store, 1_200).await.unwrap();
    assert_eq!(hook.accepted().len(), 5);
    let phone = Receiver::ntfy(Some(TOKEN));
    let phone_url2 = phone.serve_ntfy(0, "acme-leads").await.unwrap();
    let after = config(&format!(
        r#"
[channels.ops]
kind = "webhook"
url = "{hook_url}"
[channels.phone]
kind = "ntfy"
url = "{phone_url2}"
[[rules]]
events = ["release_gate"]
channels = ["ops", "phone"]
"#
    ));
    let n = notifier(&after);
    assert_eq!(n.pass(&db.store, 1_300).await.unwrap().sent, 0);
    assert_eq!(n.pass(&db.store, 1_400).await.unwrap().sent, 0);
    assert!(phone.received().is_empty(), "old items flooded the phone");
    db.store
        .upsert_release(&release("new", "github.com/acme/web", 1_500))
        .await
        .unwrap();
    assert_eq!(n.pass(&db.store, 1_600).await.unwrap().sent, 2);
    assert_eq!(phone.accepted().len(), 1);
    db.finish().await;
}
support::both!(a_new_rule_does_not_flood_its_channel_with_old_items);
use flightdeck_core::views::InboxItem;

/// A claim whose sender died is taken again after its lease; the first sender's late outcome
/// then changes nothing (only the holder of the claim records it).
async fn a_lapsed_claim_is_taken_over_and_only_its_holder_records(db: TestDb) {
    use flightdeck_core::store::{ClaimAs, NotificationClaim};
    let claim = NotificationClaim {
        channel: "ops",
        subject: "release:r1",
        version: 1,
        kind: "release_gate",
        title: "t",
        repo: "",
    };
    let how = |wall_ms: i64, token| ClaimAs {
        status: "sending",
        via: "single",
        now: 100,
        wall_ms,
        read_ms: wall_ms,
        lease_ms: 120_000,
        token,
    };
    let s = &db.store;
    assert!(s
        .claim_notification(&claim, &how(1_000_000, "a"))
        .await
        .unwrap());
    assert!(!s
        .claim_notification(&claim, &how(1_119_000, "b"))
        .await
        .unwrap());
    assert!(s
        .claim_notification(&claim, &how(1_121_000, "b"))
        .await
        .unwrap());
    assert!(!s
        .notification_sent("ops", "release:r1", 1, "a", None, 200)
        .await
        .unwrap());
    assert!(s
        .notification_sent("ops", "release:r1", 1, "b", Some("m"), 200)
        .await
        .unwrap());
    let row = &s.recent_notifications(1).await.unwrap()[0];
    assert_eq!(
        (
            row.status.as_str(),
            row.attempts,
            row.message_ref.as_deref()
        ),
        ("sent", 2, Some("m"))
    );
    db.finish().await;
}
support::both!(a_lapsed_claim_is_taken_over_and_only_its_holder_records);

/// Email over SMTP against a local server that requires STARTTLS and a sign-in: the mail goes
/// encrypted, signed in, to every address, once across a restart; a 451 is retried; a wrong
/// password and an untrusted certificate fail saying so; plain SMTP is refused off this machine.
async fn email_goes_over_starttls_signed_in_once(db: TestDb) {
    use fakehub::smtp::Smtp;
    let smtp = Smtp::new(true, Some(("flightdeck", "mail-pw"))).unwrap();
    let addr = smtp.serve(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, smtp.ca_pem()).unwrap();
    let text = |ca_file: &str| {
        format!(
            r#"
link_base = "https://flightdeck.acme.dev"
[channels.mail]
kind = "email"
smtp = "{addr}"
from = "Flightdeck <flightdeck@acme.dev>"
to = ["lead@acme.dev", "ops@acme.dev"]
username = "flightdeck"
{ca_file}
[[rules]]
events = ["release_gate"]
channels = ["mail"]
"#
        )
    };
    let c = config(&text(&format!("ca_file = {:?}", ca.display().to_string())));
    let open = |c: &Config, password: &'static str| {
        let (chs, warnings) = channels::open(c, &|_, _| Some(password.to_string()));
        assert!(warnings.is_empty(), "{warnings:?}");
        Notifier::new(c, chs, warnings)
    };
    let n = open(&c, "mail-pw");
    n.pass(&db.store, 1_000).await.unwrap();
    db.store
        .upsert_release(&release("r1", "github.com/acme/api", 1_100))
        .await
        .unwrap();
    smtp.push_fault(451);
    let r = n.pass(&db.store, 1_200).await.unwrap();
    assert!(r.failed.iter().any(|f| f.contains("451")), "{r:?}");
    let r = n.pass(&db.store, 1_231).await.unwrap();
    assert_eq!((r.sent, r.failed.len()), (1, 0), "{r:?}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.tls, "sent in the clear");
    assert_eq!(m.user.as_deref(), Some("flightdeck"));
    assert_eq!(m.from, "flightdeck@acme.dev");
    assert_eq!(m.to, ["lead@acme.dev", "ops@acme.dev"]);
    assert!(
        m.data
            .contains("Subject: Approve release vr1 to production"),
        "{}",
        m.data
    );
    assert!(
        m.data
            .contains("Open in Flightdeck: https://flightdeck.acme.dev/#/releases"),
        "{}",
        m.data
    );
    let restarted = Store::open(&db.url).await.unwrap();
    assert_eq!(
        open(&c, "mail-pw")
            .pass(&restarted, 1_300)
            .await
            .unwrap()
            .sent,
        0
    );
    assert_eq!(smtp.mails().len(), 1);

    // A wrong password, and a server certificate not trusted: each fails, saying why.
    db.store
        .upsert_release(&release("r2", "github.com/acme/api", 5_000))
        .await
        .unwrap();
    let r = open(&c, "wrong").pass(&db.store, 5_000).await.unwrap();
    assert!(r.failed.iter().any(|f| f.contains("535")), "{r:?}");
    let untrusted = config(&text(""));
    let r = open(&untrusted, "mail-pw")
        .pass(&db.store, 5_100)
        .await
        .unwrap();
    assert!(
        r.failed
            .iter()
            .any(|f| f.to_ascii_lowercase().contains("certificate")),
        "{r:?}"
    );
    assert_eq!(smtp.mails().len(), 1);

    // Plain SMTP only to this machine.
    let plain: Config = toml::from_str(
        "[channels.m]\nkind = \"email\"\nsmtp = \"mail.acme.dev:25\"\ntls = \"none\"\nfrom = \"a@acme.dev\"\nto = [\"b@acme.dev\"]\n",
    )
    .unwrap();
    let (key, message) = plain.problem().unwrap();
    assert_eq!(key, "notify.channels.m.tls");
    assert!(message.contains("only encrypted"), "{message}");
    let bad_to: Config = toml::from_str(
        "[channels.m]\nkind = \"email\"\nsmtp = \"mail.acme.dev\"\nfrom = \"a@acme.dev\"\nto = [\"not an address\"]\n",
    )
    .unwrap();
    assert_eq!(bad_to.problem().unwrap().0, "notify.channels.m.to");
    restarted.close().await;
    db.finish().await;
}
support::both!(email_goes_over_starttls_signed_in_once);

/// The section survives being written as TOML and read back (the demo writes it into the
/// config file its desktop window starts from), optional keys left out included.
#[test]
fn the_section_round_trips_through_toml() {
    let c = config(
        r#"
quiet_hours = "22:00-07:00"
[channels.hook]
kind = "webhook"
url = "https://hooks.acme.dev/x"
[channels.mail]
kind = "email"
smtp = "smtp.acme.dev"
from = "a@acme.dev"
to = ["b@acme.dev"]
ca_file = "/etc/ssl/ca.pem"
[channels.leads]
kind = "slack"
channel = "C0LEADS"
[[rules]]
events = ["*"]
channels = ["hook", "mail", "leads"]
"#,
    );
    let text = toml::to_string(&c).unwrap();
    let back: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, c);
}

/// Idle means idle: once what is news went out, a pass with nothing new writes nothing (and so
/// takes no write lock from ingest), however many items the inbox routes to the channels.
#[tokio::test]
async fn a_pass_with_nothing_new_writes_nothing() {
    use sqlx::Connection;
    let db = TestDb::sqlite().await;
    let (hook, hook_url, _phone, phone_url) = receivers().await;
    let c = two_channels(&hook_url, &phone_url, "digest_after = 3");
    let n = notifier(&c);
    db.store
        .upsert_release(&release("old", "github.com/acme/api", 900))
        .await
        .unwrap();
    n.pass(&db.store, 1_000).await.unwrap();
    for i in 0..6 {
        db.store
            .upsert_release(&release(&format!("n{i}"), "github.com/acme/api", 1_100 + i))
            .await
            .unwrap();
    }
    let r = n.pass(&db.store, 1_200).await.unwrap();
    // Three singles and a digest of three, to each of the two channels.
    assert_eq!((r.sent, r.digested), (6, 6), "{r:?}");
    let delivered = hook.received().len();
    let mut watcher = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let before: i64 = sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    for now in [1_300, 1_400, 1_500] {
        let r = n.pass(&db.store, now).await.unwrap();
        assert_eq!(
            (r.sent, r.held, r.digested, r.resolved),
            (0, 0, 0, 0),
            "{r:?}"
        );
    }
    let after: i64 = sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    assert_eq!(after, before, "an idle pass wrote");
    assert_eq!(hook.received().len(), delivered);

    // Nor does it wait for another writer (an ingest holding the write lock): it only reads.
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut watcher)
        .await
        .unwrap();
    let idle = tokio::time::timeout(std::time::Duration::from_secs(10), n.pass(&db.store, 1_600))
        .await
        .expect("an idle pass waited for the write lock");
    assert_eq!(idle.unwrap().sent, 0);
    sqlx::query("ROLLBACK").execute(&mut watcher).await.unwrap();
    db.finish().await;
}
