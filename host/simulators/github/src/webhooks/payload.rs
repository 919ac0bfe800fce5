//! Webhook bodies: `workflow_run`, `workflow_job` and `ping`, built from the same views as
//! the REST answers, at the instant the event happens.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Subject, WebhookConfig};
use crate::model::{AccountKind, Repo};
use crate::views::account::{repo_full, simple_user};
use crate::views::runs::{Ctx, RunView, job, workflow_run};
use crate::views::{node_id, ts};

/// Random-looking but fixed GitHub zen for pings.
const ZEN: &str = "Keep it logically awesome.";

fn organization(c: Ctx<'_>, r: &Repo) -> Option<Value> {
    let org =
        c.ix.account(c.s, &r.owner)
            .filter(|a| a.kind == AccountKind::Organization)?;
    let api = format!("{}/orgs/{}", c.urls.api, org.login);
    Some(json!({
        "login": org.login,
        "id": org.id,
        "node_id": node_id("Organization", org.id),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("{}/u/{}?v=4", c.urls.avatars, org.id),
        "description": null,
    }))
}

fn envelope(c: Ctx<'_>, repo: usize, action: &str, sender: &str) -> Value {
    let r = &c.s.repos[repo];
    let owner = c.account(&r.owner);
    let mut v = json!({
        "action": action,
        "repository": repo_full(r, owner, None, c.urls),
        "sender": simple_user(c.account(sender), c.urls),
    });
    if let Some(org) = organization(c, r) {
        v["organization"] = org;
    }
    v
}

/// `X-GitHub-Event` of a subject.
pub fn event_name(subject: &Subject) -> &'static str {
    match subject {
        Subject::Run { .. } => "workflow_run",
        Subject::Job { .. } => "workflow_job",
    }
}

/// The body of a scheduled event, with the objects as they are at `at`.
pub fn event(c: Ctx<'_>, subject: &Subject, action: &str, at: DateTime<Utc>) -> Value {
    match *subject {
        Subject::Run { repo, run, attempt } => {
            let r = &c.s.repos[repo];
            let rn = &r.runs[run];
            let a = &rn.attempts[attempt - 1];
            let sender = a.triggering_actor.as_deref().unwrap_or(&rn.actor);
            let wf = c.workflow(repo, rn);
            let full = r.full_name();
            let mut v = envelope(c, repo, action, sender);
            v["workflow"] = json!({
                "badge_url": format!("{}/workflows/{}/badge.svg", c.urls.repo_html(&full), wf.path.rsplit('/').next().unwrap_or_default()),
                "created_at": ts(r.created_at),
                "html_url": format!("{}/blob/{}/{}", c.urls.repo_html(&full), r.default_branch, wf.path),
                "id": wf.id,
                "name": wf.name,
                "node_id": node_id("Workflow", wf.id),
                "path": wf.path,
                "state": "active",
                "updated_at": ts(r.created_at),
                "url": format!("{}/actions/workflows/{}", c.urls.repo_api(&full), wf.id),
            });
            v["workflow_run"] = workflow_run(c, repo, rn, attempt, RunView::Latest, at);
            v
        }
        Subject::Job {
            repo,
            run,
            attempt,
            job: j,
        } => {
            let rn = &c.s.repos[repo].runs[run];
            let a = &rn.attempts[attempt - 1];
            let sender = a.triggering_actor.as_deref().unwrap_or(&rn.actor);
            let mut v = envelope(c, repo, action, sender);
            v["workflow_job"] = job(c, repo, rn, attempt, &a.jobs[j], at);
            v
        }
    }
}

/// The `ping` sent when a subscription is added; `repo` is the first repository it covers.
pub fn ping(c: Ctx<'_>, hook: &WebhookConfig, repo: Option<usize>, at: DateTime<Utc>) -> Value {
    let id = hook.id.unwrap_or_default();
    let hooks = match repo {
        Some(ri) => format!("{}/hooks/{id}", c.urls.repo_api(&c.s.repos[ri].full_name())),
        None => format!("{}/hooks/{id}", c.urls.api),
    };
    let mut v = json!({
        "zen": ZEN,
        "hook_id": id,
        "hook": {
            "type": "Repository",
            "id": id,
            "name": "web",
            "active": true,
            "events": hook.events,
            "config": {
                "content_type": "json",
                "insecure_ssl": "0",
                "url": hook.url,
            },
            "updated_at": ts(at),
            "created_at": ts(at),
            "url": hooks,
            "test_url": format!("{hooks}/test"),
            "ping_url": format!("{hooks}/pings"),
            "deliveries_url": format!("{hooks}/deliveries"),
            "last_response": {"code": null, "status": "unused", "message": null},
        },
    });
    if hook.secret.is_some() {
        // GitHub masks the secret.
        v["hook"]["config"]["secret"] = json!("********");
    }
    if let Some(ri) = repo {
        let r = &c.s.repos[ri];
        let owner = c.account(&r.owner);
        v["repository"] = repo_full(r, owner, None, c.urls);
        v["sender"] = simple_user(owner, c.urls);
        if let Some(org) = organization(c, r) {
            v["organization"] = org;
        }
    }
    v
}
