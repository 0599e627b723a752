//! The API end to end through the real router, on a SQLite store loaded from the demo workspace
//! by the real ingest.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::model::{ActionKind, WorkLinkKind, WorkState};
use flightdeck_core::store::Store;
use flightdeck_core::{demo, domain::ingest};
use flightdeck_server::{router, AppState};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The bearer token the fixture's server takes; `send` presents it unless a request carries
/// its own credentials (the sign-in tests build theirs).
const TOKEN: &str = "test-token";

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn fixture(with_demo: bool, token: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("fd.db").display().to_string())
        .await
        .unwrap();
    if with_demo {
        let now = chrono::Utc::now().timestamp();
        let ws = demo::build(&dir.path().join("demo"), now).unwrap();
        ingest::run(&store, &ws.sources(), None, now).await.unwrap();
        demo::seed_unsourced(&store, &ws, now).await.unwrap();
        // What the runtime does before serving.
        flightdeck_core::domain::experiment_links::link(&store)
            .await
            .unwrap();
    }
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(&ui).unwrap();
    std::fs::write(ui.join("index.html"), "<!doctype html><div id=root></div>").unwrap();
    Fixture {
        state: AppState {
            store,
            bus: EventBus::new(),
            ui_dir: Some(ui),
            access: Default::default(),
            token: Some(token.unwrap_or(TOKEN).to_string()),
            secure_cookies: false,
            tls_ca: None,
            tls_fingerprint: None,
            policy_file: None,
            lead: None,
            webhook_token: None,
            recent: Default::default(),
            notifier: None,
        },
        _dir: dir,
    }
}

/// The fixture's server acts as Alice (decisions need an identity and an audit key).
fn acting_as_alice(f: &mut Fixture) {
    f.state.lead = Some(flightdeck_app::Lead {
        audit_key: f._dir.path().join("audit-key"),
        name: "Alice Martin".into(),
        email: "alice@acme.dev".into(),
        github: None,
        growthbook: None,
        agents: Default::default(),
        data_dir: f._dir.path().join("data"),
        sources: None,
        policy_file: Default::default(),
        reach: Default::default(),
        person: flightdeck_core::domain::team::Person::named("Alice Martin"),
        team: Default::default(),
    });
}

/// The fixture's lead with `[team]` as `toml` says, acting as its member `alice`.
fn alice_in_team(f: &mut Fixture, toml: &str) {
    acting_as_alice(f);
    let team: flightdeck_core::domain::team::Config =
        flightdeck_core::model::toml_file::parse_toml(toml, std::path::Path::new("team.toml"))
            .unwrap();
    if let Some(lead) = f.state.lead.as_mut() {
        lead.person = team.member("alice").unwrap();
        lead.team = std::sync::Arc::new(team);
    }
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String, String) {
    let res = send(state, Request::get(uri).body(Body::empty()).unwrap()).await;
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

async fn json(state: &AppState, uri: &str) -> serde_json::Value {
    let (status, ctype, body) = get(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    assert!(ctype.starts_with("application/json"), "{uri}: {ctype}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn every_view_serves_demo_data() {
    let f = fixture(true, None).await;
    let s = &f.state;
    let health = json(s, "/api/health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "sqlite");
    assert_eq!(health["counts"]["repos"], 3);
    let len = |v: &serde_json::Value, k: &str| v[k].as_array().map(Vec::len).unwrap_or(0);
    assert!(len(&json(s, "/api/inbox").await, "items") >= 6);
    // Six open agent branches, and the merged pull requests behind recent main history.
    let changes = json(s, "/api/changes").await;
    let in_state = |state: &str| {
        changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["change"]["state"] == state)
            .count()
    };
    assert_eq!(in_state("open"), 6);
    assert!(in_state("merged") > 10, "{}", in_state("merged"));
    // Their cycle time: every phase measured, deploy included (from the demo's deploys).
    let cycle = json(s, "/api/cycle").await;
    for p in cycle["phases"].as_array().unwrap() {
        assert!(p["all"]["count"].as_i64().unwrap() > 0, "{p}");
    }
    // Agents vs people over the same range: the demo's agent branches and merged changes.
    let split = json(s, "/api/velocity/report").await;
    let agents = &split["split"][0];
    assert_eq!(agents["kind"], "agent", "{split}");
    assert!(agents["opened"].as_i64().unwrap() >= 6, "{agents}");
    assert!(agents["merged"].as_i64().unwrap() > 0, "{agents}");
    assert!(
        !split["reviewers"].as_array().unwrap().is_empty(),
        "{split}"
    );
    let (status, ctype, html) = get(s, "/api/reports/weekly.html").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert_eq!(html.matches("<svg").count(), 3);
    for name in [
        "cycle-phases.svg",
        "merged-by-week.svg",
        "lead-time-distribution.svg",
    ] {
        let (status, _, body) = get(s, &format!("/api/charts/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(body.starts_with("<svg"), "{name}");
    }
    let agents = json(s, "/api/agents").await;
    assert_eq!(len(&agents, "agents"), 2);
    assert!(len(&agents, "runs") > 6);
    assert_eq!(len(&json(s, "/api/repos").await, "repos"), 3);
    let rel = json(s, "/api/releases").await;
    assert_eq!(len(&rel, "releases"), 3);
    assert!(len(&rel, "deployments") > 0);
    // Three repos, staging and production each; production is live one release behind.
    assert_eq!(len(&rel, "environments"), 6, "{rel}");
    for e in rel["environments"].as_array().unwrap() {
        assert!(e["live"]["sha"].is_string(), "{e}");
        if e["environment"] == "production" {
            let staging = rel["environments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["repo"] == e["repo"] && x["environment"] == "staging")
                .unwrap();
            assert_ne!(e["live"]["sha"], staging["live"]["sha"]);
        }
    }
    let experiments = json(s, "/api/experiments").await;
    assert_eq!(len(&experiments, "experiments"), 3);
    assert_eq!(len(&experiments, "scorecards"), 3);
    let srm: Vec<&str> = experiments["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["srm"] == true)
        .filter_map(|c| c["experiment"]["id"].as_str())
        .collect();
    assert_eq!(srm, ["pricing-page"]);
    // One scorecard alone is the same as in the list.
    let one = json(s, "/api/experiments/pricing-page").await;
    assert_eq!(one["srm"], true);
    assert_eq!(one["experiment"]["id"], "pricing-page");
    let (status, _, body) = get(s, "/api/experiments/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Behind the win: the agent change whose diff put its flag in code, with its runs.
    let work = json(s, "/api/experiments/agent-pr-template/work").await;
    let changes = work["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{work}");
    assert_eq!(changes[0]["key"], "agent_pr_template_enabled");
    assert!(changes[0]["runs"].as_i64().unwrap() >= 1, "{work}");
    assert!(
        work["cost_per_lift_point"].as_f64().unwrap() > 0.0,
        "{work}"
    );
    let (status, _, body) = get(s, "/api/experiments/nope/work").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Its forest plot: a row per metric × variation, the zero line, a point per estimate.
    let (status, ctype, svg) = get(s, "/api/experiments/agent-pr-template/forest.svg").await;
    assert_eq!(status, StatusCode::OK, "{svg}");
    assert_eq!(ctype, "image/svg+xml");
    assert!(svg.contains("first_pass_approval · treatment"), "{svg}");
    assert!(
        svg.contains("review_minutes (guardrail) · treatment"),
        "{svg}"
    );
    assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
    // Cumulative lift of the flat experiment, day by day: peeking at the one-look interval
    // shows a "win" on some day, the always-valid interval never does.
    let series = json(s, "/api/experiments/checkout-cta/cumulative").await;
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0]["metric"], "checkout_conversion");
    let points = series[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 9, "a point a day: {series:?}");
    let units: Vec<f64> = points
        .iter()
        .map(|p| p["units"].as_f64().unwrap())
        .collect();
    assert!(units.windows(2).all(|w| w[0] < w[1]), "{units:?}");
    assert_eq!(units.last().copied(), Some(4_790.0));
    let low = |p: &serde_json::Value, k: &str| p[k]["ci"][0].as_f64().unwrap();
    let out_of_zero = points.iter().filter(|p| low(p, "lift") > 0.0).count();
    assert!(out_of_zero > points.len() / 2, "{series:?}");
    assert!(
        points.iter().all(|p| low(p, "sequential") < 0.0),
        "{series:?}"
    );
    let (status, ctype, svg) = get(s, "/api/experiments/checkout-cta/cumulative.svg").await;
    assert_eq!(status, StatusCode::OK, "{svg}");
    assert_eq!(ctype, "image/svg+xml");
    assert!(
        svg.contains("cumulative lift of checkout_conversion"),
        "{svg}"
    );
    assert!(svg.contains("<polygon"), "the always-valid band: {svg}");
    assert_eq!(svg.matches("<circle").count(), 9, "{svg}");
    let (status, _, body) = get(
        s,
        "/api/experiments/agent-pr-template/cumulative.svg?metric=nope",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("has no metric `nope` (it has first_pass_approval, review_minutes)"),
        "{body}"
    );
    let spend = json(s, "/api/spend").await;
    assert!(spend["total_usd"].as_f64().unwrap() > 0.0);
    assert!(len(&json(s, "/api/velocity").await, "weeks") > 10);
    // The demo's signed trail, intact.
    let audit = json(s, "/api/audit").await;
    assert_eq!(len(&audit, "entries"), 5);
    assert_eq!(len(&audit["integrity"], "problems"), 0);
    assert_eq!(len(&audit["integrity"], "signers"), 1);

    // The demo's waiting session is in the inbox as "needs you", and idle in Agents.
    let inbox = json(s, "/api/inbox").await;
    let needs: Vec<&serde_json::Value> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "needs_you")
        .collect();
    assert_eq!(needs.len(), 1, "{inbox}");
    assert!(needs[0]["detail"]
        .as_str()
        .unwrap()
        .contains("claude/dark-mode-toggle"));
    let idle: Vec<&serde_json::Value> = agents["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "idle")
        .collect();
    assert_eq!(idle.len(), 1);

    // Run detail: what the run did on its branch, its cost over time, and its commits.
    let run = agents["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["branch"] == "claude/invoice-rounding")
        .unwrap();
    let id = run["id"].as_str().unwrap();
    let detail = json(s, &format!("/api/runs/{id}")).await;
    assert_eq!(detail["run"]["id"], id);
    assert!(len(&detail, "files") >= 1, "{detail}");
    assert!(len(&detail, "timeline") >= 3);
    assert!(
        len(&detail, "commits") >= 1,
        "the branch's commits were made while it ran: {detail}"
    );
    let (status, _, body) = get(s, "/api/runs/nope:nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no agent run"));
}

#[tokio::test]
async fn charts_render_store_data_as_svg() {
    let f = fixture(true, None).await;
    for name in [
        "spend-by-day.svg",
        "spend-by-vendor.svg",
        "commits-by-week.svg",
        "agent-share.svg",
    ] {
        let (status, ctype, body) = get(&f.state, &format!("/api/charts/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(ctype, "image/svg+xml");
        assert!(body.starts_with("<svg"), "{name}");
        // Data was drawn: a polyline/path with many points, not just axes.
        assert!(
            body.matches(',').count() > 40,
            "{name} has no data: {body:.300}"
        );
    }
    let (_, _, legend) = get(&f.state, "/api/charts/commits-by-week.svg").await;
    assert!(legend.contains("agents") && legend.contains("people"));
    let (_, _, vendors) = get(&f.state, "/api/charts/spend-by-vendor.svg").await;
    assert!(
        vendors.contains("anthropic") && vendors.contains("openai"),
        "{vendors:.300}"
    );
    let (status, _, body) = get(&f.state, "/api/charts/nope.svg").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"code\":\"not_found\""));
}

#[tokio::test]
async fn empty_store_serves_empty_views_and_charts() {
    let f = fixture(false, None).await;
    assert_eq!(
        json(&f.state, "/api/changes").await["changes"],
        serde_json::json!([])
    );
    for name in [
        "spend-by-day.svg",
        "spend-by-vendor.svg",
        "lead-time-distribution.svg",
        "cycle-phases.svg",
    ] {
        let (status, _, body) = get(&f.state, &format!("/api/charts/{name}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("<svg"));
    }
}

/// Every `/api` request needs the bearer token or a session; a token in the URL opens nothing.
#[tokio::test]
async fn the_api_needs_the_token_or_a_session() {
    let f = fixture(false, Some("s3cret")).await;
    let s = &f.state;
    let health = |auth: Option<&str>, query: &str| {
        let mut req = Request::get(format!("/api/health{query}"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        send_bare(s, req.body(Body::empty()).unwrap())
    };
    let res = health(None, "").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("unauthorized") && body.contains("flightdeck login"),
        "{body}"
    );
    assert_eq!(
        health(None, "?token=s3cret").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        health(Some("Bearer s3creT"), "").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        health(Some("Bearer s3cret"), "").await.status(),
        StatusCode::OK
    );
    // Without a token configured, no bearer opens anything.
    let mut none = s.clone();
    none.token = None;
    let req = Request::get("/api/health")
        .header("authorization", "Bearer ")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send_bare(&none, req).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Every route of the API, reads and changes alike, and the event stream.
    for uri in [
        "/api/inbox",
        "/api/events",
        "/api/charts/spend-by-day.svg",
        "/api/sessions",
    ] {
        let req = Request::get(uri).body(Body::empty()).unwrap();
        assert_eq!(
            send_bare(s, req).await.status(),
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    for uri in state_changing_routes() {
        // The pipeline webhooks take their own token (deploy_webhook_records_with_its_token);
        // pairing takes a pairing code (a_paired_device_signs_its_requests_and_decisions).
        if uri == "/api/deploys" || uri == "/api/incidents" || uri.starts_with("/pair/") {
            continue;
        }
        let req = Request::post(uri.as_str())
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let status = send_bare(s, req).await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    // The UI shell itself is public; it carries no data.
    let req = Request::get("/").body(Body::empty()).unwrap();
    assert_eq!(send_bare(s, req).await.status(), StatusCode::OK);
}

/// A browser signs in by opening the printed link: the one-time code becomes an HttpOnly,
/// SameSite=Strict session cookie for this port; a missing, unknown, replayed or expired code
/// opens nothing and says which; signing out and revoking end the session.
#[tokio::test]
async fn browsers_sign_in_once_with_a_code_and_sign_out() {
    use flightdeck_core::domain::access;
    let f = fixture(false, None).await;
    let s = &f.state;
    let host = "127.0.0.1:7878";
    let now = chrono::Utc::now().timestamp();
    let open = |uri: String| {
        send_bare(
            s,
            Request::get(uri)
                .header("host", host)
                .header("user-agent", "Mobile Safari")
                .body(Body::empty())
                .unwrap(),
        )
    };
    let text = |res: axum::response::Response| async move {
        let b = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&b).into_owned()
    };

    let code = access::issue_login_code(&s.store, now).await.unwrap();
    let res = open(format!("/login?code={code}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/",
        "the code leaves the address bar"
    );
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in [
        "flightdeck_session_7878=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let with_cookie = |uri: &str, cookie: &str, host: &str| {
        Request::get(uri)
            .header("host", host)
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap()
    };
    let res = send_bare(s, with_cookie("/api/session", &cookie, host)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(me["kind"], "session");
    assert_eq!(me["session"]["label"], "Mobile Safari");
    let id = me["session"]["id"].as_str().unwrap().to_string();
    // The same cookie under another port's name is another server's business.
    let res = send_bare(s, with_cookie("/api/inbox", &cookie, "127.0.0.1:9999")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Replayed, unknown, missing, expired: refused, each saying why.
    let res = open(format!("/login?code={code}")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("set-cookie").is_none());
    assert!(text(res).await.contains("used already"));
    let res = open("/login?code=00112233445566778899aabbccddeeff".into()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(text(res).await.contains("not one this Flightdeck made"));
    let res = open("/login".into()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(text(res).await.contains("no sign-in code"));
    let old = access::issue_login_code(&s.store, now - access::LOGIN_CODE_SECS - 1)
        .await
        .unwrap();
    let res = open(format!("/login?code={old}")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(text(res).await.contains("expired"));

    // Under TLS the cookie is Secure.
    let mut tls = s.clone();
    tls.secure_cookies = true;
    let code = access::issue_login_code(&s.store, now).await.unwrap();
    let req = Request::get(format!("/login?code={code}"))
        .header("host", host)
        .body(Body::empty())
        .unwrap();
    let res = send_bare(&tls, req).await;
    let set2 = res.headers()["set-cookie"].to_str().unwrap();
    assert!(set2.contains("; Secure"), "{set2}");
    let cookie2 = set2.split(';').next().unwrap().to_string();

    // The second browser sees both sessions and signs the first out.
    let res = send_bare(s, with_cookie("/api/sessions", &cookie2, host)).await;
    let list: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let revoke = Request::post(format!("/api/sessions/{id}/revoke"))
        .header("host", host)
        .header("origin", "http://127.0.0.1:7878")
        .header("cookie", &cookie2)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send_bare(s, revoke).await.status(), StatusCode::NO_CONTENT);
    let res = send_bare(s, with_cookie("/api/inbox", &cookie, host)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "revoked");

    // Signing out ends the session and clears the cookie.
    let out = Request::post("/api/session/logout")
        .header("host", host)
        .header("origin", "http://127.0.0.1:7878")
        .header("cookie", &cookie2)
        .body(Body::empty())
        .unwrap();
    let res = send_bare(s, out).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let res = send_bare(s, with_cookie("/api/inbox", &cookie2, host)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "signed out");

    // Pairing a phone from a signed-in browser: a five-minute link naming this server as the
    // phone reaches it (the configured host, not 127.0.0.1), its code in the fragment (never
    // sent to a server), and its QR code. The code is not a sign-in code: it pairs only
    // through SPAKE2 (see `a_paired_device_signs_its_requests_and_decisions`).
    let mut named = s.clone();
    named.access.hosts = vec!["deck.vpn".into()];
    let code = access::issue_login_code(&s.store, now).await.unwrap();
    let res = open(format!("/login?code={code}")).await;
    let lead = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let pair = Request::post("/api/session/pair")
        .header("host", host)
        .header("origin", "http://127.0.0.1:7878")
        .header("cookie", &lead)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"Ana's phone"}"#))
        .unwrap();
    let res = send_bare(&named, pair).await;
    assert_eq!(res.status(), StatusCode::OK);
    let p: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    let url = p["url"].as_str().unwrap();
    assert!(url.starts_with("http://deck.vpn:7878/pair#"), "{url}");
    assert!(p["svg"].as_str().unwrap().contains("<svg"));
    // The server reads its own clock after `now` was taken: a second may have turned.
    let lasts = p["expires_at"].as_i64().unwrap() - now;
    assert!(
        (access::PAIR_CODE_SECS..=access::PAIR_CODE_SECS + 2).contains(&lasts),
        "{lasts}"
    );
    let code = url.rsplit('#').next().unwrap();
    for as_login in [code, code.split('.').nth(1).unwrap()] {
        let res = open(format!("/login?code={as_login}")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{as_login}");
    }
    // Unsigned, nobody pairs anything.
    let anon = Request::post("/api/session/pair")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send_bare(s, anon).await.status(), StatusCode::UNAUTHORIZED);

    // Another page's image or fetch aimed at a sign-in link uses nothing and counts nothing.
    let good = access::issue_login_code(&s.store, now).await.unwrap();
    let opened_as = |dest: &str| {
        let req = Request::get(format!("/login?code={good}"))
            .header("host", host)
            .header("sec-fetch-dest", dest)
            .header("sec-fetch-site", "cross-site")
            .body(Body::empty())
            .unwrap();
        send_bare(s, req)
    };
    for dest in ["image", "empty", "script"] {
        let status = opened_as(dest).await.status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{dest}");
    }
    // Clicked in another site's page: a navigation, still good.
    let status = opened_as("document").await.status();
    assert_eq!(status, StatusCode::SEE_OTHER, "still good");

    // Sign-in attempts are limited: past 20 failures in a minute even a good link waits.
    let good = access::issue_login_code(&s.store, now).await.unwrap();
    let mut limited = false;
    for _ in 0..25 {
        let res = open("/login?code=00112233445566778899aabbccddeeff".into()).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            assert!(text(res).await.contains("wait a minute"));
            break;
        }
    }
    assert!(limited, "25 bad codes in a row were all tried");
    let res = open(format!("/login?code={good}")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn serves_the_ui_with_history_fallback_and_json_404_for_api() {
    let f = fixture(false, None).await;
    let (status, _, body) = get(&f.state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=root"));
    let (status, _, body) = get(&f.state, "/changes/deep/link").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=root"));
    let (status, _, body) = get(&f.state, "/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("not_found"));
    let mut no_ui = f.state.clone();
    no_ui.ui_dir = None;
    let (status, _, body) = get(&no_ui, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("npm --prefix ui"));
}

#[tokio::test]
async fn events_stream_what_the_bus_publishes() {
    let f = fixture(false, None).await;
    let res = send(
        &f.state,
        Request::get("/api/events").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    f.state.bus.publish(Event::Changed {
        source: "git".into(),
        topics: vec!["repos".into()],
    });
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.contains("event: changed"), "{text}");
    assert!(
        text.contains(r#"data: {"type":"changed","source":"git","topics":["repos"]}"#),
        "{text}"
    );
    assert!(text.contains("id: 1\n"), "{text}");
}

/// The SSE events in `text` as (id, data) pairs, id "" when it has none.
fn sse_events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|e| e.contains("data: "))
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or("")
                    .to_string()
            };
            (field("id: "), field("data: "))
        })
        .collect()
}

#[tokio::test]
async fn a_client_that_falls_behind_is_told_to_reread_everything() {
    let f = fixture(false, None).await;
    let res = send(
        &f.state,
        Request::get("/api/events").body(Body::empty()).unwrap(),
    )
    .await;
    let mut body = res.into_body();
    // More than the bus holds for one listener, published before the client reads any.
    for i in 0..300 {
        f.state.bus.publish(Event::Changed {
            source: format!("git {i}"),
            topics: vec!["repos".into()],
        });
    }
    let mut text = String::new();
    while !text.contains("id: 300\n") {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("the events within 5 s")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&frame.into_data().unwrap()).unwrap());
    }
    let events = sse_events(&text);
    // First: re-read every view (no topics), no id since it is not one of the bus's events.
    assert_eq!(
        events[0],
        (
            String::new(),
            r#"{"type":"changed","source":"resync: 44 missed","topics":[]}"#.to_string()
        ),
        "{text}"
    );
    // Then the rest, numbered without a gap.
    let ids: Vec<u64> = events[1..]
        .iter()
        .map(|(id, _)| id.parse().unwrap())
        .collect();
    assert_eq!(ids, (45..=300).collect::<Vec<u64>>());
}

async fn post(
    state: &AppState,
    uri: &str,
    ctype: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let res = send(
        state,
        Request::post(uri)
            .header("content-type", ctype)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// The `/api/changes` row of the change from branch `head`.
async fn change_row(state: &AppState, head: &str) -> serde_json::Value {
    let changes = json(state, "/api/changes").await;
    changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["change"]["head"] == head)
        .unwrap()
        .clone()
}

/// A decision posted as the UI posts it (JSON).
async fn decide(state: &AppState, uri: &str, body: &str) -> (StatusCode, serde_json::Value) {
    post(state, uri, "application/json", body).await
}

fn actions_uri(id: &str) -> String {
    let enc: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/api/changes/{enc}/actions")
}

/// Approve and merge through the API, as the UI's buttons do: a refused merge says why, an
/// approved one lands in git, the outbox and the audit log; only JSON bodies are taken.
#[tokio::test]
async fn decisions_through_the_api() {
    let mut f = fixture(true, None).await;
    acting_as_alice(&mut f);
    let s = &f.state;
    let row = change_row(s, "claude/invoice-rounding").await;
    let id = row["change"]["id"].as_str().unwrap();
    assert_eq!(row["verdict"]["pass"], false);
    let uri = actions_uri(id);

    let (status, body) = decide(s, &uri, r#"{"kind":"merge"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "policy");
    assert_eq!(
        body["error"]["reasons"][0],
        "0 of 1 human approvals an agent-authored change needs"
    );

    // Judged on what was shown: a head the page did not show is refused, nothing decided.
    let (status, body) = decide(
        s,
        &uri,
        r#"{"kind":"approve","comment":"ok","head_sha":"0000000"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "moved");
    let shown = row["change"]["head_sha"].as_str().unwrap();
    let (status, body) = decide(
        s,
        &uri,
        &format!(r#"{{"kind":"approve","comment":"ok","head_sha":"{shown}"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "applied");
    let changes = json(s, "/api/changes").await;
    let row = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["change"]["id"] == id)
        .unwrap();
    assert_eq!(row["verdict"]["pass"], true, "{row}");

    let (status, body) = decide(s, &uri, r#"{"kind":"merge","method":"squash"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "applied", "{body}");
    assert!(
        body["result"].as_str().unwrap().starts_with("squash to "),
        "{body}"
    );

    // The squashed branch is still ahead of main, yet the change reads as merged.
    let row = change_row(s, "claude/invoice-rounding").await;
    assert_eq!(row["change"]["state"], "merged", "{row}");
    assert_eq!(row["change"]["mergeable"], "clean", "{row}");

    let outbox = json(s, "/api/outbox").await;
    let kinds: Vec<&str> = outbox["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["approve", "merge"]);

    // A failed decision is retried or dismissed from the outbox (JSON only, failed only).
    let approve_key = outbox["actions"][0]["idempotency_key"].as_str().unwrap();
    let resolve_uri = |k: &str| format!("/api/outbox/{k}");
    let (status, body) = decide(s, &resolve_uri(approve_key), r#"{"resolve":"retry"}"#).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_failed"))
    );
    let (status, _) = decide(s, &resolve_uri("nope"), r#"{"resolve":"dismiss"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = decide(s, &resolve_uri(approve_key), r#"{"resolve":"later"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        s,
        &resolve_uri(approve_key),
        "text/plain",
        r#"{"resolve":"retry"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let other = change_row(s, "claude/add-rate-limiting").await;
    let stale = flightdeck_core::domain::outbox::Payload {
        repo: other["change"]["repo"].as_str().unwrap().into(),
        head: "claude/add-rate-limiting".into(),
        base: "main".into(),
        sha: "0000000000".into(),
        ..Default::default()
    };
    let now = chrono::Utc::now().timestamp();
    let failed = flightdeck_core::domain::outbox::enqueue(
        &s.store,
        ActionKind::Merge,
        other["change"]["id"].as_str().unwrap(),
        &stale,
        "alice",
        now,
    )
    .await
    .unwrap();
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&f._dir.path().join("audit-key"))
            .unwrap();
    let ap = s.lead.as_ref().unwrap().appliers(&s.store).unwrap();
    flightdeck_core::domain::outbox::sync(&s.store, &ap, &key, now)
        .await
        .unwrap();
    let (status, body) = decide(
        s,
        &resolve_uri(&failed.idempotency_key),
        r#"{"resolve":"dismiss"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "dismissed");

    // Closing: the change leaves the open list, the branch stays.
    let id2 = other["change"]["id"].as_str().unwrap();
    let (status, body) = decide(
        s,
        &actions_uri(id2),
        r#"{"kind":"close","comment":"duplicate"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["result"].as_str().unwrap().ends_with(": duplicate"),
        "{body}"
    );
    assert_eq!(
        change_row(s, "claude/add-rate-limiting").await["change"]["state"],
        "closed"
    );
    let audit = json(s, "/api/audit").await;
    assert_eq!(audit["entries"][0]["action"], "close applied");
    assert_eq!(audit["entries"][1]["action"], "merge dismiss");
    assert_eq!(audit["integrity"]["problems"].as_array().unwrap().len(), 0);

    // Bad input is refused with a reason; a form post (no JSON) is not taken at all.
    let (status, body) = decide(s, &uri, r#"{"kind":"explode"}"#).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, _) = decide(s, &uri, r#"{"kind":"request_changes"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(s, &uri, "text/plain", r#"{"kind":"approve"}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = decide(
        s,
        &actions_uri("local:/nope:claude/x"),
        r#"{"kind":"approve"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_read_only_server_refuses_decisions() {
    let f = fixture(false, None).await;
    let (status, body) = decide(&f.state, &actions_uri("x"), r#"{"kind":"approve"}"#).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "read_only");
}

/// A change request's diff, paged, as the review page loads it.
#[tokio::test]
async fn change_diffs_are_served() {
    let f = fixture(true, None).await;
    let s = &f.state;
    let row = change_row(s, "claude/add-rate-limiting").await;
    // The agent run behind it, in brief.
    let run = &row["run_summaries"][0];
    assert_eq!(run["agent"], "claude-code");
    assert!(
        run["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{run}"
    );
    assert!(run["cost_usd"].as_f64().unwrap() > 0.0, "{run}");
    let id = row["change"]["id"].as_str().unwrap();
    let enc: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let diff = json(s, &format!("/api/changes/{enc}/diff?page=1")).await;
    assert_eq!(diff["files_total"], row["change"]["files_changed"]);
    let adds: i64 = diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["additions"].as_i64().unwrap())
        .sum();
    assert_eq!(adds, row["change"]["insertions"].as_i64().unwrap());
    assert!(diff["files"][0]["hunks"][0]["lines"][0]["text"].is_string());
    let (status, _, body) = get(s, "/api/changes/local%3A%2Fnope%3Ax/diff").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// Work items linked to a change — by its branch (the demo's) or by its id — show on the
/// change's row (its review page); others do not.
#[tokio::test]
async fn changes_show_their_work_item() {
    let f = fixture(true, None).await;
    let s = &f.state;
    let row = change_row(s, "claude/add-rate-limiting").await;
    assert_eq!(row["work_items"][0]["id"], "W-demo0001", "{row}");
    assert_eq!(row["work_items"][0]["assignee"], "agent:claude");
    // The invoice branch's task, adopted from its agent run by the ingest.
    let invoice = change_row(s, "claude/invoice-rounding").await;
    assert_eq!(
        invoice["work_items"].as_array().unwrap().len(),
        1,
        "{invoice}"
    );
    assert_eq!(invoice["work_items"][0]["assignee"], "agent:claude-code");
    let id = invoice["change"]["id"].as_str().unwrap().to_string();
    s.store
        .upsert_work_item(&flightdeck_core::model::WorkItem {
            id: "W-00000001".into(),
            title: "Round invoices half-even".into(),
            body: String::new(),
            repo: None,
            assignee: Some("person:bob".into()),
            state: WorkState::InReview,
            source: flightdeck_core::model::WorkSource::Cockpit,
            labels: vec![],
            created_at: 1,
            updated_at: 1,
            links: vec![flightdeck_core::model::WorkLink {
                kind: WorkLinkKind::Change,
                target: id,
            }],
        })
        .await
        .unwrap();
    let invoice = change_row(s, "claude/invoice-rounding").await;
    let ids: Vec<&str> = invoice["work_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids.contains(&"W-00000001"),
        "linked by the change's id: {ids:?}"
    );
    let row = change_row(s, "claude/add-rate-limiting").await;
    assert_eq!(row["work_items"].as_array().unwrap().len(), 1);
}

const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/assets/fake-agent.sh");

/// "Request changes and send back" through the API, as the review page does it: the decision
/// is queued, the agent (a fake that commits and logs like Claude Code) runs on the change's
/// own branch with the comments and the diff as its prompt, its commit lands on that branch and
/// the change request shows the new head; the board shows the work item with its dispatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("fd.db").display().to_string())
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let ws = demo::build(&dir.path().join("demo"), now).unwrap();
    ingest::run(&store, &ws.sources(), None, now).await.unwrap();
    let trace = dir.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let mut agents = std::collections::BTreeMap::new();
    agents.insert(
        "fake".to_string(),
        flightdeck_core::domain::work::AgentConfig {
            vendor: Some("anthropic".into()),
            model: None,
            command: [
                "bash",
                FAKE_AGENT,
                "ok",
                ws.claude_dir.to_str().unwrap(),
                trace.to_str().unwrap(),
                "{prompt}",
            ]
            .map(String::from)
            .to_vec(),
            concurrency: Some(1),
            env: Vec::new(),
        },
    );
    let state = AppState {
        store,
        bus: EventBus::new(),
        ui_dir: None,
        access: Default::default(),
        token: Some(TOKEN.into()),
        secure_cookies: false,
        tls_ca: None,
        tls_fingerprint: None,
        policy_file: None,
        webhook_token: None,
        recent: Default::default(),
        notifier: None,
        lead: Some(flightdeck_app::Lead {
            audit_key: dir.path().join("audit-key"),
            name: "Alice Martin".into(),
            email: "alice@acme.dev".into(),
            github: None,
            growthbook: None,
            agents,
            data_dir: dir.path().join("data"),
            sources: Some(ws.sources()),
            policy_file: Default::default(),
            reach: Default::default(),
            person: flightdeck_core::domain::team::Person::named("Alice Martin"),
            team: Default::default(),
        }),
    };
    let s = &state;
    let before = change_row(s, "claude/invoice-rounding").await;
    let id = before["change"]["id"].as_str().unwrap().to_string();
    let old_head = before["change"]["head_sha"].as_str().unwrap().to_string();
    let uri = actions_uri(&id);

    // Refused by name: an agent that is not configured, send_back with another decision.
    let (status, body) = decide(
        s,
        &uri,
        r#"{"kind":"request_changes","comment":"x","send_back":"gpt"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no agent `gpt`"));
    let (status, _) = decide(s, &uri, r#"{"kind":"approve","send_back":"fake"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = decide(
        s,
        &uri,
        r#"{"kind":"request_changes","comment":"Round half to even, not half up.","send_back":"fake"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "request_changes");
    let dispatch = body["dispatch"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["dispatch"]["branch"], "claude/invoice-rounding");
    assert_eq!(body["dispatch"]["kind"], "send_back");

    // The agent runs in the background; its output is served as it comes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let detail = loop {
        let d = json(s, &format!("/api/dispatches/{dispatch}")).await;
        if d["state"] == "succeeded" || d["state"] == "failed" {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "never ended: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(detail["state"], "succeeded", "{detail}");
    let log = detail["log"].to_string();
    assert!(
        log.contains("prompt starts: Flightdeck send-back of a change for more work."),
        "{log}"
    );

    // The prompt carried the comments and the diff under review; the commit is on the branch.
    let prompt = std::fs::read_to_string(
        std::path::Path::new(detail["worktree"].as_str().unwrap()).join("fake-change-0.txt"),
    )
    .unwrap();
    assert!(
        prompt.contains("Round half to even, not half up."),
        "{prompt}"
    );
    assert!(prompt.contains("```diff\ndiff --git"), "{prompt}");
    let after = change_row(s, "claude/invoice-rounding").await;
    let new_head = after["change"]["head_sha"].as_str().unwrap();
    assert_ne!(
        new_head, old_head,
        "the change request shows the new commit"
    );
    let clone = s
        .store
        .repo_path(after["change"]["repo"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the demo's clone is on this machine");
    let repo = git2::Repository::open(clone).unwrap();
    let tip = repo
        .find_commit(git2::Oid::from_str(new_head).unwrap())
        .unwrap();
    assert_eq!(tip.parent_id(0).unwrap().to_string(), old_head);
    // The change's work item (made for it) shows on the board, assigned to the agent.
    assert_eq!(after["work_items"][0]["assignee"], "agent:fake");
    let board = json(s, "/api/work").await;
    let col = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["assignee"] == "agent:fake")
        .unwrap()
        .clone();
    assert_eq!(col["items"][0]["work"]["state"], "in_review");
    assert_eq!(col["items"][0]["dispatch"]["id"], dispatch.as_str());
    assert!(col["items"][0]["runs"].as_i64().unwrap() >= 1, "{col}");
    let audit = json(s, "/api/audit").await.to_string();
    assert!(audit.contains("work send back"), "audited");
}

/// The deploy webhook: off without its token, refused with a wrong one, and with the right one
/// records the deploy (resolving the revision, working out what it shipped); the deploy and
/// the DORA keys are served.
#[tokio::test]
async fn deploy_webhook_records_with_its_token() {
    let mut f = fixture(true, None).await;
    let body =
        r#"{"repo":"acme-api","environment":"qa","sha":"main","status":"success","id":"ci-981"}"#;
    let send_to = |state: AppState,
                   path: &'static str,
                   auth: Option<&'static str>,
                   body: &'static str| async move {
        let mut req = Request::post(path).header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = router(state)
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
        )
    };
    let send = |state: AppState, auth: Option<&'static str>, body: &'static str| {
        send_to(state, "/api/deploys", auth, body)
    };
    let body: &'static str = Box::leak(body.to_string().into_boxed_str());
    let (status, v) = send(f.state.clone(), Some("Bearer x"), body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("FLIGHTDECK_WEBHOOK_TOKEN"));
    f.state.webhook_token = Some("hook-5ecret".into());
    let (status, _) = send(f.state.clone(), None, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The token before the body: a caller without it is refused whatever it sends, unread.
    let junk: &'static str = Box::leak("{\"x\": [".repeat(300_000).into_boxed_str());
    for path in ["/api/deploys", "/api/incidents"] {
        let (status, _) = send_to(f.state.clone(), path, Some("Bearer nope"), junk).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // With it, a body far over a report's size is refused by size.
    let (status, _) = send(f.state.clone(), Some("Bearer hook-5ecret"), junk).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = send(f.state.clone(), Some("Bearer hook-5ecreT"), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = send(f.state.clone(), Some("Bearer hook-5ecret"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["id"], "ci-981");
    assert_eq!(v["contents"], "exact");
    assert_eq!(
        v["sha"].as_str().unwrap().len(),
        40,
        "the revision resolved"
    );
    let bad = r#"{"repo":"acme-api","environment":"production","sha":"main","status":"green"}"#;
    let (status, v) = send(f.state.clone(), Some("Bearer hook-5ecret"), bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("`green`"));

    let detail = json(&f.state, "/api/deploys/ci-981").await;
    assert_eq!(detail["deployment"]["environment"], "qa");
    // The first deploy to qa: it shipped the whole history of main.
    assert_eq!(detail["previous"], serde_json::Value::Null);
    assert!(detail["commits"].as_array().unwrap().len() > 10, "{detail}");
    // Each change it shipped with its author, reviews, checks, cost and policy verdict (the
    // demo's merged history was reviewed).
    let changes = detail["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "{detail}");
    for c in changes {
        assert!(c["change"]["author"]["kind"].is_string(), "{c}");
        assert!(
            c["checks"].is_array() && c["change"]["agent_cost_usd"].is_number(),
            "{c}"
        );
        assert!(c["verdict"]["pass"].is_boolean(), "{c}");
    }
    assert!(
        changes
            .iter()
            .any(|c| !c["reviews"].as_array().unwrap().is_empty()),
        "{detail}"
    );
    let dora = json(&f.state, "/api/dora").await;
    assert!(dora["deploys"].as_i64().unwrap() >= 1, "{dora}");
    // The demo's incident issue fails the production deploy before it and times its restore.
    assert_eq!(dora["incident_issues"], 1, "{dora}");
    assert!(
        dora["time_to_restore"]["count"].as_i64().unwrap() >= 1,
        "{dora}"
    );

    // A pager reports an incident through the same token; DORA counts it.
    let page = r#"{"repo":"acme-api","title":"5xx on checkout","id":"PD-7"}"#;
    let (status, _) = send_to(f.state.clone(), "/api/incidents", None, page).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = send_to(
        f.state.clone(),
        "/api/incidents",
        Some("Bearer hook-5ecret"),
        page,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["id"].as_str(), v["closed_at"].is_null()),
        (Some("ext:PD-7"), true)
    );
    let bad = r#"{"repo":"acme-api","title":"x","opened":100,"closed":50}"#;
    let (status, v) = send_to(
        f.state.clone(),
        "/api/incidents",
        Some("Bearer hook-5ecret"),
        bad,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("closes"),
        "{v}"
    );
    let dora = json(&f.state, "/api/dora").await;
    assert_eq!(dora["incident_issues"], 2, "{dora}");
}

/// Every route that changes something, read from the router's source so a new one cannot be
/// missed: `(path with each `{param}` as `x`, method)`.
fn state_changing_routes() -> Vec<String> {
    let src = include_str!("../src/routes.rs");
    let mut out = Vec::new();
    for line in src.lines() {
        let Some(rest) = line.trim().strip_prefix(".route(\"") else {
            continue;
        };
        let Some((path, handlers)) = rest.split_once('"') else {
            continue;
        };
        if handlers.contains("post(") {
            let path: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            // Pairing sits beside /login, outside /api: the phone has no session yet.
            if path.starts_with("/pair/") {
                out.push(path);
            } else {
                out.push(format!("/api{path}"));
            }
        }
    }
    out
}

/// Through the real router as a script would call it: with the bearer token, unless the
/// request brings its own credentials.
async fn send(state: &AppState, mut req: Request<Body>) -> axum::response::Response {
    let h = req.headers_mut();
    if !h.contains_key("authorization") && !h.contains_key("cookie") {
        if let Some(t) = &state.token {
            h.insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
    }
    router(state.clone()).oneshot(req).await.unwrap()
}

/// Exactly as given: no credentials added.
async fn send_bare(state: &AppState, req: Request<Body>) -> axum::response::Response {
    router(state.clone()).oneshot(req).await.unwrap()
}

/// Another page in the lead's browser cannot act in the lead's name: a cross-origin JSON POST
/// and a no-cors form POST are refused on every state-changing route, before the route runs;
/// the server's own page is not. A page on a DNS-rebound name gets nothing at all, and every
/// answer keeps the UI out of frames.
#[tokio::test]
async fn foreign_pages_and_hosts_are_refused() {
    let f = fixture(true, None).await;
    let s = &f.state;
    let routes = state_changing_routes();
    assert!(routes.len() >= 10, "{routes:?}");
    assert!(routes.contains(&"/api/dispatches/x/cancel".to_string()));
    let host = "127.0.0.1:7878";
    for uri in &routes {
        let cross = Request::post(uri.as_str())
            .header("host", host)
            .header("origin", "http://evil.example")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let res = send(s, cross).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "cross-origin JSON to {uri}"
        );
        let form = Request::post(uri.as_str())
            .header("host", host)
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "no-cors")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("kind=merge"))
            .unwrap();
        let res = send(s, form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "no-cors form to {uri}");
        let own = Request::post(uri.as_str())
            .header("host", host)
            .header("origin", "http://127.0.0.1:7878")
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let res = send(s, own).await;
        assert_ne!(res.status(), StatusCode::FORBIDDEN, "own page to {uri}");
    }
    // The refusal says why, as every API error does.
    let res = send(
        s,
        Request::post("/api/work")
            .header("host", host)
            .header("origin", "http://evil.example")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    let body: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http://evil.example"),
        "{body}"
    );

    // DNS rebinding: the page's own name as the Host, on reads and on the UI alike.
    for uri in ["/api/inbox", "/", "/api/health"] {
        let req = Request::get(uri)
            .header("host", "rebind.evil.example:7878")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(s, req).await.status(), StatusCode::FORBIDDEN, "{uri}");
    }
    // Loopback names and addresses, and the configured ones, are served.
    let mut named = f.state.clone();
    named.access.hosts = vec!["deck.vpn".into()];
    for h in [
        "localhost:7878",
        "127.0.0.1:7878",
        "[::1]:7878",
        "deck.vpn:7878",
    ] {
        let req = Request::get("/api/health")
            .header("host", h)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&named, req).await.status(), StatusCode::OK, "{h}");
    }

    // Framing and script headers on the API and on the UI.
    for uri in ["/api/health", "/"] {
        let req = Request::get(uri)
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        let res = send(s, req).await;
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{uri}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{uri}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
}

/// A phone paired through SPAKE2 (the code never sent) enrols its own key; from then on its
/// requests are refused unless signed with that key (unsigned, wrongly signed, replayed), its
/// decisions carry its signature into the audit log, and `audit verify` can tell a decision
/// the phone signed from one the server made up.
#[tokio::test]
async fn a_paired_device_signs_its_requests_and_decisions() {
    use flightdeck_core::model::device::{self, Statement, TestDevice};
    use flightdeck_core::model::{audit, pake};
    let mut f = fixture(true, None).await;
    acting_as_alice(&mut f);
    let s = &f.state;
    let host = "127.0.0.1:7878";
    let body_of = |res: axum::response::Response| async move {
        let b = res.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default()
    };
    let pair_post = |path: &str, body: serde_json::Value| {
        Request::post(path)
            .header("host", host)
            .header("origin", "http://127.0.0.1:7878")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };

    let (status, p) = post(
        s,
        "/api/session/pair",
        "application/json",
        r#"{"name":"Ana's phone"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let code = p["url"]
        .as_str()
        .unwrap()
        .rsplit('#')
        .next()
        .unwrap()
        .to_string();
    let (code_id, secret) = code.split_once('.').unwrap();

    // The phone: its key, then SPAKE2 with the server. Nothing it sends holds the secret.
    let phone = TestDevice::new();
    let half = pake::Half::device(&pake::password_scalar(secret)).unwrap();
    let start = serde_json::json!({"code_id": code_id, "message": hex::encode(half.message())});
    assert!(!start.to_string().contains(secret));
    let res = send_bare(s, pair_post("/pair/start", start.clone())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let started = body_of(res).await;
    let server_msg: [u8; 32] = hex::decode(started["message"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let keys = half
        .finish(&server_msg, phone.public_hex().as_bytes())
        .unwrap();
    let finish = serde_json::json!({
        "exchange": started["exchange"],
        "device_key": phone.public_hex(),
        "confirmation": hex::encode(keys.device_confirms),
    });
    let res = send_bare(s, pair_post("/pair/finish", finish)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let paired = body_of(res).await;
    // The server proves it knew the code too.
    assert_eq!(paired["confirmation"], hex::encode(keys.server_confirms));
    assert_eq!(paired["session"]["label"], "Ana's phone");
    assert_eq!(paired["session"]["device_key"], phone.public_hex());

    // The code pairs once.
    let res = send_bare(s, pair_post("/pair/start", start)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body_of(res).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("used already"));
    let unknown =
        serde_json::json!({"code_id": "feedfacecafe", "message": hex::encode(half.message())});
    let res = send_bare(s, pair_post("/pair/start", unknown)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // An expired code (made six minutes ago) says so.
    let old_code = flightdeck_core::domain::access::issue_pairing_code(
        &s.store,
        None,
        chrono::Utc::now().timestamp() - 6 * 60,
    )
    .await
    .unwrap();
    let expired = serde_json::json!({
        "code_id": old_code.split('.').next().unwrap(),
        "message": hex::encode(half.message()),
    });
    let res = send_bare(s, pair_post("/pair/start", expired)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let why = body_of(res).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("expired"), "{why}");

    // Someone who watched the link's public half and guesses the rest: one try, and the code
    // is gone for the phone too (it pairs again), never paired to the guesser.
    let (_, p2) = post(s, "/api/session/pair", "application/json", "{}").await;
    let code2 = p2["url"]
        .as_str()
        .unwrap()
        .rsplit('#')
        .next()
        .unwrap()
        .to_string();
    let (id2, _) = code2.split_once('.').unwrap();
    let guess =
        pake::Half::device(&pake::password_scalar("00112233445566778899aabbccddeeff")).unwrap();
    let res = send_bare(
        s,
        pair_post(
            "/pair/start",
            serde_json::json!({"code_id": id2, "message": hex::encode(guess.message())}),
        ),
    )
    .await;
    let st = body_of(res).await;
    let m: [u8; 32] = hex::decode(st["message"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let thief = TestDevice::new();
    let k = guess.finish(&m, thief.public_hex().as_bytes()).unwrap();
    let res = send_bare(
        s,
        pair_post(
            "/pair/finish",
            serde_json::json!({"exchange": st["exchange"], "device_key": thief.public_hex(), "confirmation": hex::encode(k.device_confirms)}),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let why = body_of(res).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("did not match"), "{why}");

    // Requests: signed with the phone's key or refused.
    let mut n = 0u32;
    let mut signed = |method: &str, uri: &str, body: &str, by: &TestDevice| {
        n += 1;
        let at = chrono::Utc::now().timestamp_millis();
        let nonce = format!("nonce{n:012}");
        let sig =
            by.sign(device::request_message(method, uri, at, &nonce, body.as_bytes()).as_bytes());
        Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .header("origin", "http://127.0.0.1:7878")
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .header("x-flightdeck-time", at.to_string())
            .header("x-flightdeck-nonce", nonce)
            .header("x-flightdeck-signature", sig)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let unsigned = Request::get("/api/inbox")
        .header("host", host)
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    // 403, not 401: the session is good, the request is not (a phone takes 401 as signed out).
    let res = send_bare(s, unsigned).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_of(res).await["error"]["code"], "bad_signature");
    let res = send_bare(s, signed("GET", "/api/inbox", "", &phone)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send_bare(s, signed("GET", "/api/inbox", "", &thief)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "another key");
    let replay = signed("GET", "/api/session", "", &phone);
    let again = Request::builder()
        .method("GET")
        .uri("/api/session")
        .body(Body::empty())
        .unwrap();
    let (mut parts, _) = again.into_parts();
    parts.headers = replay.headers().clone();
    assert_eq!(send_bare(s, replay).await.status(), StatusCode::OK);
    let res = send_bare(s, Request::from_parts(parts, Body::empty())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "replayed");
    // A body changed after signing does not verify.
    let mut tampered = signed("POST", "/api/work", r#"{"title":"a"}"#, &phone);
    *tampered.body_mut() = Body::from(r#"{"title":"b"}"#);
    assert_eq!(send_bare(s, tampered).await.status(), StatusCode::FORBIDDEN);

    // Decisions: the phone signs what it decides; an unsigned one or one whose statement says
    // something else is refused.
    let row = change_row(s, "claude/invoice-rounding").await;
    let id = row["change"]["id"].as_str().unwrap().to_string();
    let head = row["change"]["head_sha"].as_str().unwrap().to_string();
    let uri = actions_uri(&id);
    let mut st = Statement::of("approve", &id);
    st.head = Some(head.clone());
    st.key = Some("phone-approve-000001".into());
    st.comment = Some("read on the train".into());
    st.at = chrono::Utc::now().timestamp_millis();
    let sd = phone.sign_decision(&st);
    let decision = serde_json::json!({
        "kind": "approve", "comment": "read on the train", "head_sha": head,
        "idempotency_key": "phone-approve-000001", "signed": sd,
    });
    let mut no_sig = decision.clone();
    no_sig.as_object_mut().unwrap().remove("signed");
    let res = send_bare(s, signed("POST", &uri, &no_sig.to_string(), &phone)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_of(res).await["error"]["code"], "unsigned");
    let mut other = decision.clone();
    other["kind"] = "merge".into();
    let res = send_bare(s, signed("POST", &uri, &other.to_string(), &phone)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_of(res).await["error"]["code"], "bad_signature");
    let res = send_bare(s, signed("POST", &uri, &decision.to_string(), &phone)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Sent again (the answer was lost): the same decision, recorded once.
    let res = send_bare(s, signed("POST", &uri, &decision.to_string(), &phone)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let releases = json(s, "/api/releases").await;
    let pending = releases["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["release"]["state"] == "pending" || r["state"] == "pending")
        .expect("the demo has a pending release");
    let rid = pending["release"]["id"]
        .as_str()
        .or(pending["id"].as_str())
        .unwrap()
        .to_string();
    let release = if pending["release"].is_object() {
        &pending["release"]
    } else {
        pending
    };
    let enc: String = form_urlencoded::byte_serialize(rid.as_bytes()).collect();
    let release_uri = format!("/api/releases/{enc}/decision");
    let mut rs = Statement::of("release_approve", &rid);
    rs.comment = Some(String::new());
    rs.at = chrono::Utc::now().timestamp_millis();
    // Signed for another candidate commit than the release's: refused.
    rs.head = Some("0000000".into());
    let body = serde_json::json!({"approve": true, "signed": phone.sign_decision(&rs)});
    let res = send_bare(s, signed("POST", &release_uri, &body.to_string(), &phone)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    rs.head = release["sha"].as_str().map(str::to_string);
    let body = serde_json::json!({"approve": true, "signed": phone.sign_decision(&rs)});
    let res = send_bare(s, signed("POST", &release_uri, &body.to_string(), &phone)).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_of(res).await);

    // The audit log: the enrolment and both decisions, the phone's signatures verifying.
    // (The demo's own entries are signed by the demo's key: trusted here too.)
    let mut entries = s.store.audit_entries().await.unwrap();
    let mut trusted: Vec<String> = entries.iter().map(|e| e.signer.clone()).collect();
    trusted.dedup();
    let v = audit::verify(&entries, &trusted, &[]);
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.devices.len(), 1, "{:?}", v.devices);
    assert_eq!(v.devices[0].name, "Ana's phone");
    assert_eq!(v.devices[0].decisions, 2);
    let signed_entries: Vec<_> = entries
        .iter()
        .filter(|e| e.action.ends_with(audit::SIGNED_SUFFIX))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        signed_entries.len(),
        2,
        "approve once despite the resend, and the release: {signed_entries:?}"
    );

    // The server cannot make up the phone's decision: a statement it rewrites (approve →
    // merge), rehashed and signed again with its own key, still lacks the phone's signature.
    let key = s.lead.as_ref().unwrap().key().unwrap();
    let forged = entries
        .iter_mut()
        .find(|e| e.action == format!("approve{}", audit::SIGNED_SUFFIX))
        .unwrap();
    forged.action = format!("merge{}", audit::SIGNED_SUFFIX);
    forged.detail = forged.detail.replace("\"approve\"", "\"merge\"");
    forged.hash = audit::entry_hash_with(
        &forged.prev_hash,
        forged.seq,
        &forged.decision(),
        &forged.device_key,
        &forged.device_signature,
    );
    forged.signature = key.sign(&forged.hash);
    forged.signer = key.public_hex();
    let seq = forged.seq;
    let v = audit::verify(&entries, &trusted, &[]);
    assert!(
        v.problems
            .iter()
            .any(|p| p.seq == seq && p.what.contains("not signed by device")),
        "{:?}",
        v.problems
    );
    assert!(
        !v.problems
            .iter()
            .any(|p| p.seq == seq && p.what.contains("edited")),
        "{:?}",
        v.problems
    );

    // A revoked phone's signed requests are refused too.
    let sid = paired["session"]["id"].as_str().unwrap();
    let res = send(
        s,
        Request::post(format!("/api/sessions/{sid}/revoke"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send_bare(s, signed("GET", "/api/inbox", "", &phone)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// A browser signed in with a code made for a team member acts as that member: its decisions
/// carry their name, and the team's rules are theirs (a refusal names the rule, 403).
#[tokio::test]
async fn a_session_acts_as_the_member_its_code_was_for() {
    use flightdeck_core::domain::access;
    let mut f = fixture(true, None).await;
    alice_in_team(
        &mut f,
        r#"
        [members.alice]
        name = "Alice Martin"
        emails = ["alice@acme.dev"]
        [members.bob]
        name = "Bob Chen"
        [release_approvers]
        production = ["alice"]
        "#,
    );
    let s = &f.state;
    let now = flightdeck_app::now();
    let code = access::issue_login_code_for(&s.store, Some("bob"), now)
        .await
        .unwrap();
    let res = send_bare(
        s,
        Request::get(format!("/login?code={code}"))
            .header("host", "127.0.0.1:7878")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let post = |uri: String, body: &'static str, cookie: Option<&str>| {
        let mut r = Request::post(uri)
            .header("host", "127.0.0.1:7878")
            .header("origin", "http://127.0.0.1:7878")
            .header("content-type", "application/json");
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.body(Body::from(body)).unwrap()
    };
    let pending = s
        .store
        .releases()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.state == flightdeck_core::model::ReleaseState::Pending)
        .expect("the demo has a pending release");
    let enc: String = form_urlencoded::byte_serialize(pending.id.as_bytes()).collect();
    let uri = format!("/api/releases/{enc}/decision");

    // Bob's browser: production is Alice's to approve.
    let res = send(s, post(uri.clone(), r#"{"approve": true}"#, Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let b = res.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(body["error"]["code"], "not_allowed", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bob Chen may not approve or reject releases to production"),
        "{body}"
    );
    // A change decision from Bob's browser is Bob's in the log.
    let change = change_row(s, "claude/add-rate-limiting").await;
    let id = change["change"]["id"].as_str().unwrap().to_string();
    let res = send(
        s,
        post(
            actions_uri(&id),
            r#"{"kind": "comment", "comment": "looks fine"}"#,
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The token (a script on the lead's machine) acts as the instance's user, Alice.
    let res = send(s, post(uri, r#"{"approve": true}"#, None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let actors: Vec<(String, String)> = s
        .store
        .audit_entries()
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action))
        .collect();
    assert!(
        actors.contains(&("Bob Chen".into(), "comment applied".into())),
        "{actors:?}"
    );
    assert!(
        actors.contains(&("Alice Martin".into(), "release approve".into())),
        "{actors:?}"
    );
    assert!(!actors
        .iter()
        .any(|(a, k)| a == "Bob Chen" && k == "release approve"));
}

/// `?mine=true` keeps what concerns the caller: reviews asked of them (by any name they go by,
/// their forge login included), work assigned to them, runs their machine's agents made.
#[tokio::test]
async fn mine_is_what_concerns_the_caller() {
    use flightdeck_core::model::{Author, ChangeKind, ChangeState};
    let mut f = fixture(true, None).await;
    alice_in_team(
        &mut f,
        r#"
        [members.alice]
        name = "Alice Martin"
        github = "alice-gh"
        "#,
    );
    let s = &f.state;
    let template = change_row(s, "claude/add-rate-limiting").await;
    let mut pr: flightdeck_core::model::ChangeRequest =
        serde_json::from_value(template["change"].clone()).unwrap();
    pr.id = "github:acme/api#7".into();
    pr.kind = ChangeKind::Github;
    pr.head = "feature/x".into();
    pr.state = ChangeState::Open;
    pr.author = Author::Human { name: "bob".into() };
    pr.requested_reviewers = vec!["Alice-GH".into()];
    s.store.upsert_change_request(&pr).await.unwrap();
    let (_, _, body) = get(s, "/api/changes?mine=true").await;
    let mine: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = mine["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["github:acme/api#7"]);
    let (_, _, body) = get(s, "/api/changes").await;
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(all["changes"].as_array().unwrap().len() > 1);

    // The demo's work: only Alice's items (none assigned to her yet, then one).
    let (_, _, body) = get(s, "/api/work?mine=true").await;
    let board: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(board["columns"].as_array().unwrap().len(), 0, "{board}");
    let mut item = s.store.work_items().await.unwrap().remove(0);
    item.assignee = Some("person:Alice Martin".into());
    s.store.upsert_work_item(&item).await.unwrap();
    let (_, _, body) = get(s, "/api/work?mine=true").await;
    let board: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items: Vec<&str> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["items"].as_array().unwrap())
        .map(|i| i["work"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(items, [item.id.as_str()]);

    // The demo's runs were read on a machine whose user is "demo": not Alice's.
    let (_, _, body) = get(s, "/api/agents?mine=true").await;
    let agents: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(agents["runs"].as_array().unwrap().len(), 0);
    let (_, _, body) = get(s, "/api/agents").await;
    let agents: serde_json::Value = serde_json::from_str(&body).unwrap();
    let all_runs = agents["runs"].as_array().unwrap().len();
    assert!(all_runs > 0);
    // As the demo's user, every run is theirs.
    if let Some(lead) = f.state.lead.as_mut() {
        lead.person = flightdeck_core::domain::team::Person::named("demo");
    }
    let (_, _, body) = get(&f.state, "/api/agents?mine=true").await;
    let agents: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(agents["runs"].as_array().unwrap().len(), all_runs);
}

/// Experiments are decided over the API as the caller: a sample-ratio mismatch needs a reason
/// (409 `sample_ratio_mismatch`), a second, different decision is 409 `decided`, an unknown
/// experiment 404, a call that is not one 422; the scorecard then shows the decision.
#[tokio::test]
async fn experiments_are_decided_over_the_api() {
    let mut f = fixture(true, None).await;
    acting_as_alice(&mut f);
    let s = &f.state;
    let decide = |id: &str, body: &'static str| {
        let uri = format!("/api/experiments/{}/decision", id.replace(':', "%3A"));
        async move { post(s, &uri, "application/json", body).await }
    };
    let (status, body) = decide("pricing-page", r#"{"call":"stop"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "sample_ratio_mismatch");
    let (status, body) = decide(
        "pricing-page",
        r#"{"call":"stop","reason":"the CDN cached one variation"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["by"], "Alice Martin");
    let (status, body) = decide("pricing-page", r#"{"call":"iterate","reason":"x"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "decided");
    let (status, _) = decide("demo:nope", r#"{"call":"stop"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = decide("checkout-cta", r#"{"call":"celebrate"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing wins in the peeked one yet: shipping it needs a variation named.
    let (status, body) = decide("checkout-cta", r#"{"call":"ship"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = decide("agent-pr-template", r#"{"call":"ship"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["variation"], "treatment");
    let view = json(s, "/api/experiments").await;
    let decided: Vec<(&str, &str)> = view["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            Some((
                c["experiment"]["id"].as_str()?,
                c["decision"]["call"].as_str()?,
            ))
        })
        .collect();
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert!(decided.contains(&("pricing-page", "stop")));
    assert!(decided.contains(&("agent-pr-template", "ship")));
}

/// A view's answer is kept while nothing it reads has changed: computed again after a write by
/// another connection (another process), an event, or an edit of the policy file; never given
/// to a caller that is not signed in. (The policy file is rewritten below with its old
/// modification time put back: a change the cache cannot see, which shows whether an answer
/// was kept or computed.)
#[tokio::test]
async fn views_are_kept_while_the_data_under_them_is_unchanged() {
    let mut f = fixture(true, None).await;
    let policy = f._dir.path().join("policy.toml");
    let lenient = "[default]\nagent_approvals = 0\n";
    let strict = "[default]\nagent_approvals = 3\n";
    std::fs::write(&policy, lenient).unwrap();
    f.state.policy_file = Some(policy.clone());
    // Rewrites the policy unseen: its modification time as it was.
    let rewrite_unseen = |body: &str| {
        let was = std::fs::metadata(&policy).unwrap().modified().unwrap();
        std::fs::write(&policy, body).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&policy)
            .unwrap()
            .set_modified(was)
            .unwrap();
    };
    // Whether the approvals rule passes on the open agent changes, as the view says.
    let approvals_ok = |v: &serde_json::Value| -> Vec<bool> {
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["change"]["state"] == "open" && r["change"]["author"]["kind"] == "agent")
            .flat_map(|r| r["verdict"]["reasons"].as_array().unwrap().clone())
            .filter(|r| r["rule"] == "approvals")
            .map(|r| r["ok"].as_bool().unwrap())
            .collect()
    };
    let changes = |state: &AppState| {
        let state = state.clone();
        async move { approvals_ok(&json(&state, "/api/changes").await) }
    };
    // The first answer is computed (and, as every GET, writes nothing: the scan stored the
    // local branch's paths), so the next one is kept.
    let lenient_answer = changes(&f.state).await;
    assert!(
        !lenient_answer.is_empty() && lenient_answer.iter().all(|ok| *ok),
        "{lenient_answer:?}"
    );
    let strict_answer: Vec<bool> = lenient_answer.iter().map(|_| false).collect();

    rewrite_unseen(strict);
    assert_eq!(
        changes(&f.state).await,
        lenient_answer,
        "nothing seen changed: kept"
    );
    assert!(!f.state.recent.views.is_empty());
    // Not signed in: refused, kept answer or not.
    let res = send_bare(
        &f.state,
        Request::get("/api/changes").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // An edit of the policy file (a new modification time): computed again.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&policy)
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert_eq!(changes(&f.state).await, strict_answer, "the edited policy");

    // Another connection writes (as another process would): computed again.
    rewrite_unseen(lenient);
    assert_eq!(changes(&f.state).await, strict_answer, "kept");
    let other = Store::open(&f.state.store.target().url).await.unwrap();
    other.set_cursor("test", "poke", "1", 0).await.unwrap();
    assert_eq!(
        changes(&f.state).await,
        lenient_answer,
        "after another's write"
    );

    // An event (a decision, another instance's change): computed again.
    rewrite_unseen(strict);
    assert_eq!(changes(&f.state).await, lenient_answer, "kept");
    f.state.bus.publish(Event::Changed {
        source: "test".into(),
        topics: vec!["changes".into()],
    });
    assert_eq!(changes(&f.state).await, strict_answer, "after an event");
}
