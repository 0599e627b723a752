//! The routes. Handlers are thin: each calls one `flightdeck_core::views` function.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flightdeck_app::review;
use flightdeck_app::work::Launch;
use flightdeck_app::Lead;
use flightdeck_core::model::audit::AuditKey;
use flightdeck_core::model::events::Event;
use flightdeck_core::model::{Action, Dispatch, WorkItem};
use flightdeck_core::{domain::outbox, domain::work, views, views::board};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tower_http::services::{ServeDir, ServeFile};

use crate::auth;
use crate::charts;
use crate::error::ApiError;
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/session", get(auth::me))
        .route("/session/logout", post(auth::logout))
        .route("/session/pair", post(crate::pairing::pair))
        .route("/sessions", get(auth::sessions))
        .route("/sessions/{id}/revoke", post(auth::revoke))
        .route("/events", get(events))
        .route("/inbox", get(inbox))
        .route("/changes", get(changes))
        // JSON bodies only: a cross-site form cannot send `application/json` without a CORS
        // preflight, which this server never grants.
        .route("/changes/{id}/actions", post(decide))
        .route("/changes/{id}/diff", get(change_diff))
        .route("/outbox", get(outbox))
        .route("/work", get(work_board).post(work_add))
        .route("/work/{id}/assign", post(work_assign))
        .route("/work/{id}/state", post(work_state))
        .route("/work/{id}/dispatch", post(work_dispatch))
        .route("/dispatches/{id}", get(dispatch_detail))
        .route("/dispatches/{id}/cancel", post(dispatch_cancel))
        .route("/outbox/{key}", post(resolve))
        .route("/agents", get(agents))
        .route("/runs/{id}", get(run_detail))
        .route("/repos", get(repos))
        .route("/releases", get(releases))
        .route("/experiments", get(experiments))
        .route("/experiments/{id}", get(experiment_scorecard))
        .route("/experiments/{id}/decision", post(experiment_decision))
        .route("/experiments/{id}/work", get(experiment_work))
        .route("/experiments/{id}/forest.svg", get(experiment_forest))
        .route("/experiments/{id}/cumulative", get(experiment_cumulative))
        .route(
            "/experiments/{id}/cumulative.svg",
            get(experiment_cumulative_chart),
        )
        .route("/spend", get(spend))
        .route("/velocity", get(velocity))
        .route("/audit", get(audit))
        .route("/charts/{name}", get(chart))
        .route("/deploys/{id}", get(deploy_detail))
        .route("/releases/{id}", get(release_detail))
        .route("/releases/{id}/decision", post(release_decision))
        .route("/dora", get(dora_view))
        .route("/cycle", get(cycle_view))
        .route("/velocity/report", get(velocity_report))
        .route("/team", get(team_view))
        .route("/notifications", get(notifications))
        .route("/notifications/test", post(notification_test))
        .route("/reports/weekly.html", get(weekly_report))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": {"code": "not_found", "message": "no such API route"}})),
            )
        })
        // Inside authentication: only an authenticated caller is answered from the cache.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::cache::views,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require));
    // The deploy and incident webhooks take their own token (a pipeline needs no more than
    // that), so they sit outside the API token's layer. The token is checked before the body
    // is read, and a report is a few hundred bytes: bodies are capped far below the default.
    let hooks = Router::new()
        .route("/deploys", post(deploy_webhook))
        .route("/incidents", post(incident_webhook))
        .route_layer(middleware::from_fn_with_state(state.clone(), webhook_auth))
        .layer(axum::extract::DefaultBodyLimit::max(WEBHOOK_BODY));
    let api = hooks.merge(api);
    let app = Router::new()
        .route("/login", get(auth::login))
        .route("/pair/start", post(crate::pairing::start))
        .route("/pair/finish", post(crate::pairing::finish))
        .route("/tls/ca.pem", get(tls_ca))
        .nest("/api", api);
    let app = match &state.ui_dir {
        Some(dir) => app
            .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => app.fallback(ui_missing),
    };
    // Outermost: nothing, the UI's files included, is answered before the guard has passed it.
    app.layer(middleware::from_fn_with_state(
        state.clone(),
        crate::guard::guard,
    ))
    .with_state(state)
}

/// `GET /tls/ca.pem`: the local CA's certificate (public), for a phone to install and trust
/// this server's certificate made by `serve --tls`.
async fn tls_ca(State(s): State<AppState>) -> Response {
    match s.tls_ca {
        Some(pem) => ([(header::CONTENT_TYPE, "application/x-x509-ca-cert")], pem).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "This server's certificate was not made here (or it serves no TLS): there is no CA \
             certificate to install.",
        )
            .into_response(),
    }
}

async fn ui_missing() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><title>Flightdeck</title><h1>The UI is not built</h1>\
             <p>Run <code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code>, or pass \
             <code>--ui-dir</code>. The API is up at <a href=\"/api/health\">/api/health</a>.</p>",
        ),
    )
}

/// Decides on a change (approve, request changes and send back, comment, merge, close).
async fn decide(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(mut d): Json<outbox::Decide>,
) -> ApiResult<review::Decided> {
    let lead = acting_for(&s, &caller)?;
    d.device = caller.device();
    let now = flightdeck_app::now();
    let decided = review::decide(&lead, &s.store, &s.bus, &id, &d, Launch::Background, now).await?;
    Ok(Json(decided))
}

/// The acting lead and their audit key.
pub(crate) fn lead(s: &AppState) -> Result<(&Lead, AuditKey), ApiError> {
    let lead = acting(s)?;
    Ok((lead, lead.key()?))
}

/// [`acting_for`] `caller`, with the audit key.
fn lead_for(s: &AppState, caller: &auth::Caller) -> Result<(Lead, AuditKey), ApiError> {
    let lead = acting_for(s, caller)?;
    let key = lead.key()?;
    Ok((lead, key))
}

fn acting(s: &AppState) -> Result<&Lead, ApiError> {
    s.lead
        .as_ref()
        .ok_or_else(|| ApiError::ReadOnly("acting needs an audit key and an identity".into()))
}

/// The lead acting for `caller`: a signed-in browser or paired device acts as the person its
/// code was made for; the desktop, the token and sessions from before as the instance's user.
fn acting_for(s: &AppState, caller: &auth::Caller) -> Result<Lead, ApiError> {
    let lead = acting(s)?;
    Ok(match caller.person() {
        Some(p) => lead.as_person(p),
        None => lead.clone(),
    })
}

/// `?mine=true`: only what concerns the caller (see `views::mine`).
#[derive(serde::Deserialize, Default)]
struct MineQuery {
    #[serde(default)]
    mine: bool,
}

/// Whom "mine" means for `caller`: the person a session acts as, else the instance's user.
fn me(s: &AppState, caller: &auth::Caller) -> Result<Lead, ApiError> {
    acting_for(s, caller)
        .map_err(|_| ApiError::BadRequest("`mine` needs an identity: this server has none".into()))
}

async fn work_board(
    State(s): State<AppState>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Query(q): Query<MineQuery>,
) -> ApiResult<board::WorkBoard> {
    let agents = s
        .lead
        .as_ref()
        .map(|a| a.agents.clone())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let mut board = board::work_board(&s.store, &agents, now).await?;
    if q.mine {
        let lead = me(&s, &caller)?;
        views::mine::work(&mut board, &lead.team, &lead.person);
    }
    Ok(Json(board))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWork {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
}

async fn work_add(
    State(s): State<AppState>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(n): Json<NewWork>,
) -> ApiResult<WorkItem> {
    let (actions, key) = lead_for(&s, &caller)?;
    let assignee = n
        .assignee
        .as_deref()
        .map(|a| work::parse_assignee(a, &actions.agents))
        .transpose()?;
    let now = chrono::Utc::now().timestamp();
    let w = work::add(
        &s.store,
        &key,
        &actions.name,
        &n.title,
        &n.body,
        n.repo.as_deref(),
        assignee,
        now,
    )
    .await?;
    publish_work(&s);
    Ok(Json(w))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    /// person:NAME or agent:NAME.
    assignee: String,
}

async fn work_assign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(b): Json<AssignBody>,
) -> ApiResult<WorkItem> {
    let (actions, key) = lead_for(&s, &caller)?;
    let assignee = work::parse_assignee(&b.assignee, &actions.agents)?;
    let by = work::Actor {
        key: &key,
        name: &actions.name,
        now: chrono::Utc::now().timestamp(),
    };
    let w = work::assign(&s.store, &by, &id, assignee).await?;
    publish_work(&s);
    Ok(Json(w))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: String,
}

async fn work_state(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(b): Json<StateBody>,
) -> ApiResult<WorkItem> {
    let (actions, key) = lead_for(&s, &caller)?;
    let by = work::Actor {
        key: &key,
        name: &actions.name,
        now: chrono::Utc::now().timestamp(),
    };
    let w = work::set_state(&s.store, &by, &id, &b.state).await?;
    publish_work(&s);
    Ok(Json(w))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DispatchBody {
    /// Default: the item's assignee, when that is an agent.
    #[serde(default)]
    agent: Option<String>,
}

/// Queues the item for the agent and starts it in the background (it waits while the agent is
/// at its concurrency limit); the answer is the queued dispatch.
async fn work_dispatch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(b): Json<DispatchBody>,
) -> ApiResult<Dispatch> {
    let lead = acting_for(&s, &caller)?;
    let now = flightdeck_app::now();
    let queued = flightdeck_app::work::dispatch(
        &lead,
        &s.store,
        &s.bus,
        &id,
        b.agent.as_deref(),
        Launch::Background,
        now,
    )
    .await?;
    Ok(Json(queued))
}

/// A dispatch with the last lines of its output log (it grows while the agent runs).
#[derive(serde::Serialize)]
struct DispatchDetail {
    #[serde(flatten)]
    dispatch: Dispatch,
    log: Vec<String>,
}

async fn dispatch_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<DispatchDetail> {
    let d = s
        .store
        .dispatch(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no dispatch `{id}`")))?;
    let log = match &s.lead {
        // Read from its end: an agent's log can be any size.
        Some(a) => flightdeck_core::domain::dispatch::log_tail(&a.data_dir, &id, 500)
            .await
            .unwrap_or_default(),
        None => d
            .output_tail
            .lines()
            .map(flightdeck_core::domain::dispatch::cut_line)
            .collect(),
    };
    Ok(Json(DispatchDetail { dispatch: d, log }))
}

async fn dispatch_cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
) -> ApiResult<Dispatch> {
    let (actions, key) = lead_for(&s, &caller)?;
    let by = work::Actor {
        key: &key,
        name: &actions.name,
        now: chrono::Utc::now().timestamp(),
    };
    let d = flightdeck_core::domain::dispatch::cancel(&s.store, &by, &id).await?;
    publish_work(&s);
    Ok(Json(d))
}

fn publish_work(s: &AppState) {
    flightdeck_app::work::publish_work(&s.bus);
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    /// retry or dismiss.
    resolve: String,
}

/// Retries or dismisses a failed action (JSON body, like every other write).
async fn resolve(
    State(s): State<AppState>,
    Path(key): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(body): Json<ResolveBody>,
) -> ApiResult<Action> {
    let how = match body.resolve.as_str() {
        "retry" => outbox::Resolve::Retry,
        "dismiss" => outbox::Resolve::Dismiss,
        other => {
            return Err(ApiError::BadRequest(format!(
                "`{other}` is not retry or dismiss"
            )))
        }
    };
    let lead = acting_for(&s, &caller)?;
    let now = flightdeck_app::now();
    Ok(Json(
        review::resolve(&lead, &s.store, &s.bus, &key, how, now).await?,
    ))
}

#[derive(serde::Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn change_diff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> ApiResult<flightdeck_core::forge::diff::ChangeDiff> {
    let page = q.page.unwrap_or(1);
    let now = flightdeck_app::now();
    Ok(Json(
        review::change_diff(s.lead.as_ref(), &s.store, &id, page, now).await?,
    ))
}

async fn outbox(State(s): State<AppState>) -> ApiResult<views::OutboxView> {
    Ok(Json(views::outbox(&s.store).await?))
}

/// The Notifications panel; with no `[notify]` channel configured, an empty one.
async fn notifications(
    State(s): State<AppState>,
) -> ApiResult<flightdeck_core::notify::NotificationsView> {
    let n = match &s.notifier {
        Some(n) => n.clone(),
        None => std::sync::Arc::new(flightdeck_core::notify::Notifier::new(
            &Default::default(),
            Vec::new(),
            Vec::new(),
        )),
    };
    Ok(Json(n.view(&s.store).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    channel: String,
}

/// "Send a test": queued, sent in the background (a channel may take seconds to answer, or
/// none); the outcome shows in the panel's list, announced on the event stream.
async fn notification_test(
    State(s): State<AppState>,
    Json(body): Json<TestBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Some(n) = s.notifier.clone() else {
        return Err(ApiError::NotFound(
            "no notification channel is configured ([notify.channels] in the config file)".into(),
        ));
    };
    if !n.channels().iter().any(|c| c.name == body.channel) {
        return Err(ApiError::NotFound(format!(
            "no ready channel `{}`",
            body.channel
        )));
    }
    n.test_allowed(&body.channel).map_err(ApiError::TooMany)?;
    let (store, bus, channel) = (s.store.clone(), s.bus.clone(), body.channel.clone());
    tokio::spawn(async move {
        let now = chrono::Utc::now().timestamp();
        match n.test(&store, &channel, now).await {
            Ok(Err(e)) => tracing::warn!("test notification to {channel}: {e}"),
            Err(e) => tracing::warn!("test notification to {channel}: {e}"),
            Ok(Ok(())) => {}
        }
        bus.publish(flightdeck_core::model::events::Event::Changed {
            source: "notify".into(),
            topics: vec!["notifications".into()],
        });
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"queued": body.channel})),
    ))
}

async fn health(State(s): State<AppState>) -> ApiResult<views::Health> {
    Ok(Json(views::health(&s.store).await?))
}

async fn inbox(State(s): State<AppState>) -> ApiResult<views::InboxView> {
    Ok(Json(views::inbox(&s.store).await?))
}

async fn changes(
    State(s): State<AppState>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Query(q): Query<MineQuery>,
) -> ApiResult<views::ChangesView> {
    let mut view = views::changes(&s.store, s.policy_file.as_deref()).await?;
    if q.mine {
        let lead = me(&s, &caller)?;
        views::mine::changes(&mut view, &lead.team, &lead.person);
    }
    Ok(Json(view))
}

async fn agents(
    State(s): State<AppState>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Query(q): Query<MineQuery>,
) -> ApiResult<views::AgentsView> {
    let mut view = views::agents(&s.store).await?;
    if q.mine {
        let lead = me(&s, &caller)?;
        views::mine::agents(&s.store, &mut view, &lead.team, &lead.person).await?;
    }
    Ok(Json(view))
}

async fn run_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match views::run_detail(&s.store, &id).await? {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(ApiError::NotFound(format!("no agent run `{id}`"))),
    }
}

async fn repos(State(s): State<AppState>) -> ApiResult<views::ReposView> {
    Ok(Json(views::repos(&s.store).await?))
}

async fn releases(State(s): State<AppState>) -> ApiResult<views::ReleasesView> {
    Ok(Json(views::releases(&s.store).await?))
}

async fn experiments(State(s): State<AppState>) -> ApiResult<views::ExperimentsView> {
    Ok(Json(views::experiments(&s.store).await?))
}

async fn spend(State(s): State<AppState>) -> ApiResult<views::SpendView> {
    Ok(Json(views::spend(&s.store).await?))
}

async fn velocity(State(s): State<AppState>) -> ApiResult<views::VelocityView> {
    Ok(Json(
        views::velocity(&s.store, chrono::Utc::now().timestamp(), 26).await?,
    ))
}

/// Per person and team over the last 30 days (`[team]` of the instance serving it).
async fn team_view(
    State(s): State<AppState>,
) -> ApiResult<flightdeck_core::metrics::team::TeamView> {
    let now = chrono::Utc::now().timestamp();
    let none = flightdeck_core::domain::team::Config::default();
    let team = s.lead.as_ref().map_or(&none, |l| l.team.as_ref());
    Ok(Json(
        flightdeck_core::metrics::team::team_view(&s.store, team, now - 30 * 86_400, now + 1)
            .await?,
    ))
}

async fn audit(State(s): State<AppState>) -> ApiResult<views::AuditView> {
    Ok(Json(views::audit(&s.store).await?))
}

async fn chart(State(s): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let svg = match name.as_str() {
        "spend-by-day.svg" => charts::spend_by_day(&views::spend(&s.store).await?)?,
        "spend-by-vendor.svg" => charts::spend_by_vendor(
            &flightdeck_core::metrics::reports::spend_by_week_and_vendor(&s.store).await?,
        )?,
        "commits-by-week.svg" => charts::commits_by_week(
            &views::velocity(&s.store, chrono::Utc::now().timestamp(), 26).await?,
        )?,
        "agent-share.svg" => charts::agent_share(
            &views::velocity(&s.store, chrono::Utc::now().timestamp(), 26).await?,
        )?,
        "cycle-phases.svg" => {
            let (since, until, production) = DoraQuery::default().resolve();
            let c = flightdeck_core::metrics::cycle::cycle_time(
                &s.store,
                None,
                since,
                until,
                &production,
            )
            .await?;
            charts::cycle_phases(&c.phases)?
        }
        "lead-time-distribution.svg" => {
            let (since, until, production) = DoraQuery::default().resolve();
            charts::lead_time_distribution(
                &flightdeck_core::metrics::dora::lead_time_distribution(
                    &s.store,
                    None,
                    since,
                    until,
                    &production,
                )
                .await?,
            )?
        }
        "merged-by-week.svg" => {
            let (since, until) = last_days(12 * 7);
            charts::merged_by_week(
                &flightdeck_core::metrics::cycle::throughput(&s.store, None, since, until).await?,
            )?
        }
        _ => return Err(ApiError::NotFound(format!("no such chart `{name}`"))),
    };
    Ok(svg_response(svg))
}

async fn events(
    State(s): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(s.bus.subscribe_numbered()).filter_map(|ev| async move {
        let frame = match ev {
            // The SSE id is the bus's sequence number: a client can tell it missed none.
            Ok(n) => SseEvent::default()
                .id(n.seq.to_string())
                .event("changed")
                .json_data(&n.event),
            // A client too slow to keep up is told to re-read everything, never left stale.
            Err(BroadcastStreamRecvError::Lagged(missed)) => SseEvent::default()
                .event("changed")
                .json_data(Event::resync(missed)),
        };
        frame.ok().map(Ok)
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `POST /api/deploys` from a pipeline: `Authorization: Bearer <webhook token>` (or the API
/// token), a JSON body like `{"environment": "production", "sha": "…", "status": "success"}`.
/// A pipeline's or pager's bearer token: the webhook token, or the API token when one is set.
fn webhook_caller(s: &AppState, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &s.webhook_token else {
        return Err(ApiError::ReadOnly(
            "the deploy and incident webhooks are off: start the server with \
             FLIGHTDECK_WEBHOOK_TOKEN set"
                .into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok =
        auth::same(given, expected) || s.token.as_deref().is_some_and(|t| auth::same(given, t));
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The largest deploy or incident report taken (they are a few hundred bytes).
const WEBHOOK_BODY: usize = 64 * 1024;

/// The webhooks' caller checked before anything reads the request's body.
async fn webhook_auth(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Result<Response, ApiError> {
    webhook_caller(&s, req.headers())?;
    Ok(next.run(req).await)
}

/// An incident from a pager or status page (a second post with the same `id` updates it).
/// Its caller was checked by `webhook_auth`.
async fn incident_webhook(
    State(s): State<AppState>,
    Json(r): Json<flightdeck_core::domain::incidents::IncidentRecord>,
) -> Result<(StatusCode, Json<flightdeck_core::model::Incident>), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let i = flightdeck_core::domain::incidents::record(&s.store, &r, now).await?;
    s.bus.publish(Event::Changed {
        source: "incidents".into(),
        topics: ["velocity"].map(String::from).to_vec(),
    });
    Ok((StatusCode::CREATED, Json(i)))
}

/// A deploy from a pipeline; its caller was checked by `webhook_auth`.
async fn deploy_webhook(
    State(s): State<AppState>,
    Json(r): Json<flightdeck_core::domain::deploys::Record>,
) -> Result<(StatusCode, Json<flightdeck_core::model::Deployment>), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let d = flightdeck_core::domain::deploys::record(&s.store, &r, "webhook", now).await?;
    s.bus.publish(Event::Changed {
        source: "deploys".into(),
        topics: ["releases", "velocity", "inbox"].map(String::from).to_vec(),
    });
    Ok((StatusCode::CREATED, Json(d)))
}

/// Token comparison in constant time (for equal lengths): a timing difference tells nothing
/// about how much of a guess was right.
async fn deploy_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<flightdeck_core::domain::deploys::DeployDetail> {
    flightdeck_core::domain::deploys::detail(&s.store, &id, s.policy_file.as_deref())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no deploy `{id}`")))
}

#[derive(Default, serde::Deserialize)]
struct DoraQuery {
    /// Unix seconds; default 28 days before `until`.
    since: Option<i64>,
    /// Unix seconds; default now.
    until: Option<i64>,
    env: Option<String>,
}

impl DoraQuery {
    /// `(since, until, production environment)` with the defaults filled in.
    fn resolve(self) -> (i64, i64, String) {
        let until = self.until.unwrap_or_else(|| chrono::Utc::now().timestamp());
        let since = self.since.unwrap_or(until - 28 * 86_400);
        let env = self
            .env
            .unwrap_or_else(|| flightdeck_core::metrics::dora::DoraConfig::default().production);
        (since, until, env)
    }
}

async fn dora_view(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<DoraQuery>,
) -> ApiResult<flightdeck_core::metrics::dora::Dora> {
    let (since, until, production) = q.resolve();
    let cfg = flightdeck_core::metrics::dora::DoraConfig {
        production,
        ..Default::default()
    };
    Ok(Json(
        flightdeck_core::metrics::dora::dora(&s.store, None, since, until, &cfg).await?,
    ))
}

/// `[now - days, now)`.
fn last_days(days: i64) -> (i64, i64) {
    let now = chrono::Utc::now().timestamp();
    (now - days * 86_400, now)
}

/// Cycle time by phase and weekly throughput, over the same range and environment as `/dora`.
async fn cycle_view(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<DoraQuery>,
) -> ApiResult<flightdeck_core::metrics::cycle::CycleTime> {
    let (since, until, env) = q.resolve();
    Ok(Json(
        flightdeck_core::metrics::cycle::cycle_time(&s.store, None, since, until, &env).await?,
    ))
}

/// Agents vs people (acceptance, rework, reverts, cost per merged change), review load and
/// cycle time over the same range and environment as `/dora`.
async fn velocity_report(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<DoraQuery>,
) -> ApiResult<flightdeck_core::metrics::velocity::VelocityReport> {
    let (since, until, _) = q.resolve();
    Ok(Json(
        flightdeck_core::metrics::velocity::report(&s.store, since, until).await?,
    ))
}

/// The weekly HTML report for the week up to now (as `flightdeck report weekly` writes it).
async fn weekly_report(State(s): State<AppState>) -> Result<Response, ApiError> {
    let html = crate::report::weekly_html(&s.store, chrono::Utc::now().timestamp(), 12).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}

async fn release_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<flightdeck_core::domain::releases::ReleaseDetail> {
    Ok(Json(
        flightdeck_core::domain::releases::detail(&s.store, &id).await?,
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseDecision {
    approve: bool,
    #[serde(default)]
    reason: String,
    /// Accepted for symmetry with change decisions; a release decision is already one per
    /// release and direction (the same one again is answered with the release as it stands).
    #[serde(default)]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
    /// From a paired device: its signed statement of this decision (which names the
    /// candidate commit it was shown).
    #[serde(default)]
    signed: Option<flightdeck_core::model::device::SignedDecision>,
    /// The candidate commit shown. Checked through the device's statement, which carries it;
    /// a desk browser's decision is on the release as it stands.
    #[serde(default)]
    #[allow(dead_code)]
    sha: Option<String>,
}

/// One experiment's scorecard.
async fn experiment_scorecard(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<flightdeck_core::stats::scorecard::Scorecard> {
    flightdeck_core::domain::experiments::scorecard(&s.store, &id, flightdeck_app::now())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no experiment `{id}`")))
}

/// The changes, agent runs, cost and deploys behind an experiment.
async fn experiment_work(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<flightdeck_core::domain::experiment_links::ExperimentWork> {
    flightdeck_core::domain::experiment_links::work_of(&s.store, &id, flightdeck_app::now())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no experiment `{id}`")))
}

/// The experiment's forest plot (lift and intervals per metric × variation), as SVG.
async fn experiment_forest(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let card =
        flightdeck_core::domain::experiments::scorecard(&s.store, &id, flightdeck_app::now())
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no experiment `{id}`")))?;
    Ok(svg_response(charts::forest(&card)?))
}

/// The experiment's cumulative lift over time, per metric × variation.
async fn experiment_cumulative(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Vec<flightdeck_core::stats::scorecard::LiftSeries>> {
    flightdeck_core::domain::experiments::cumulative(&s.store, &id)
        .await?
        .map(|(_, series)| Json(series))
        .ok_or_else(|| ApiError::NotFound(format!("no experiment `{id}`")))
}

#[derive(serde::Deserialize)]
struct MetricQuery {
    metric: Option<String>,
}

/// One metric's cumulative lift over time (`?metric=`, default the primary one), as SVG.
async fn experiment_cumulative_chart(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<MetricQuery>,
) -> Result<Response, ApiError> {
    let (experiment, series) = flightdeck_core::domain::experiments::cumulative(&s.store, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no experiment `{id}`")))?;
    let metric = q.metric.unwrap_or_else(|| experiment.metric.clone());
    let of: Vec<_> = series.iter().filter(|s| s.metric == metric).collect();
    if of.is_empty() {
        let mut names: Vec<&str> = series.iter().map(|s| s.metric.as_str()).collect();
        names.dedup();
        return Err(ApiError::BadRequest(format!(
            "metric: experiment `{id}` has no metric `{metric}` (it has {})",
            names.join(", ")
        )));
    }
    Ok(svg_response(charts::cumulative(
        &experiment.name,
        &metric,
        &of,
    )?))
}

/// Ship, stop or iterate, as `POST /api/experiments/{id}/decision` takes it.
#[derive(serde::Deserialize)]
struct ExperimentDecision {
    call: flightdeck_core::model::ExperimentCall,
    #[serde(default)]
    variation: Option<String>,
    #[serde(default)]
    reason: String,
}

/// Decides an experiment as the caller: signed in the audit log, taken once.
async fn experiment_decision(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(b): Json<ExperimentDecision>,
) -> ApiResult<flightdeck_core::model::ExperimentDecided> {
    let lead = acting_for(&s, &caller)?;
    let d = flightdeck_app::experiment::decide(
        &lead,
        &s.store,
        &s.bus,
        &id,
        b.call,
        b.variation.as_deref(),
        &b.reason,
        flightdeck_app::now(),
    )
    .await?;
    Ok(Json(d))
}

/// Approves or rejects a release: signed in the audit log now; a GitHub run waiting on the
/// environment hears it through the outbox (the background sender, or the next sync).
async fn release_decision(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<auth::Caller>,
    Json(b): Json<ReleaseDecision>,
) -> ApiResult<flightdeck_core::model::Release> {
    let lead = acting_for(&s, &caller)?;
    let now = flightdeck_app::now();
    let device = match (caller.device(), b.signed) {
        (Some(by), Some(signed)) => {
            Some(flightdeck_core::model::device::DeviceDecision { by, signed })
        }
        (Some(_), None) => {
            return Err(ApiError::Decide(outbox::DecideError::Unsigned));
        }
        (None, _) => None,
    };
    let r = flightdeck_app::release::decide(
        &lead,
        &s.store,
        &s.bus,
        &id,
        b.approve,
        &b.reason,
        device.as_ref(),
        now,
    )
    .await?
    .release;
    Ok(Json(r))
}

/// A chart as the browser and the desktop window take it: SVG, never cached (it is redrawn
/// from the data of the moment).
fn svg_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
