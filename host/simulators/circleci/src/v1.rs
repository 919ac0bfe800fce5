//! API v1.1 `GET /projects`: the user's followed projects.
//!
//! Shape follows the 2020 recordings summarised in circleci-api.md §4.9:
//! `branches` is keyed by branch name, `latest_workflows` by URL-encoded
//! workflow name, and `recent_builds` lists jobs (v1.1 "builds"), newest first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use crate::model::Project;
use crate::state::Shared;
use crate::timeline;

/// Body of `GET /api/v1.1/projects` for `users[user]`.
pub fn followed_projects(sh: &Shared, user: usize, now: DateTime<Utc>) -> Value {
    let s = &sh.scenario;
    let u = &s.users[user];
    let projects = s.projects.iter().enumerate().filter(|(pi, p)| {
        // GitHub App / GitLab projects have no v1.1 representation.
        !p.slug.starts_with("circleci/")
            && sh.index.can_access(s, user, *pi)
            && u.followed.as_ref().is_none_or(|f| f.contains(&p.slug))
    });
    Value::Array(projects.map(|(_, p)| project_entry(p, now)).collect())
}

fn project_entry(p: &Project, now: DateTime<Utc>) -> Value {
    let mut parts = p.slug.splitn(3, '/');
    let vcs = parts.next().unwrap_or_default();
    let username = parts.next().unwrap_or_default();
    let reponame = parts.next().unwrap_or_default();
    json!({
        "vcs_url": p.vcs_url,
        "vcs_type": if vcs == "bb" { "bitbucket" } else { "github" },
        "username": username,
        "reponame": reponame,
        "default_branch": p.default_branch,
        "following": true,
        "has_usable_key": true,
        "language": p.extra.get("language").cloned().unwrap_or(Value::Null),
        "oss": false,
        "parallel": 1,
        "branches": branches(p, now),
    })
}

fn branches(p: &Project, now: DateTime<Utc>) -> Value {
    // Newest pipeline first so the first workflow seen per name is the latest.
    let mut pipelines: Vec<_> = p
        .pipelines
        .iter()
        .filter(|pl| pl.created_at.instant() <= now)
        .collect();
    pipelines.sort_by_key(|pl| std::cmp::Reverse(pl.number));
    let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for pl in pipelines {
        let Some(vcs) = &pl.vcs else { continue };
        let Some(branch) = &vcs.branch else { continue };
        let entry = out.entry(branch.clone()).or_insert_with(|| {
            let mut m = Map::new();
            m.insert("latest_workflows".into(), json!({}));
            m.insert("pusher_logins".into(), json!([]));
            m.insert("running_builds".into(), json!([]));
            m.insert("recent_builds".into(), json!([]));
            m.insert("last_success".into(), Value::Null);
            m.insert("last_non_success".into(), Value::Null);
            m
        });
        if let Some(logins) = entry.get_mut("pusher_logins").and_then(Value::as_array_mut) {
            let login = json!(pl.trigger.actor.login);
            if !pl.trigger.actor.login.is_empty() && !logins.contains(&login) {
                logins.push(login);
            }
        }
        let mut workflows: Vec<_> = pl
            .workflows
            .iter()
            .filter(|w| w.created_at.instant() <= now)
            .collect();
        workflows.sort_by_key(|w| std::cmp::Reverse(w.created_at.instant()));
        for w in workflows {
            let state = timeline::workflow_now(w, now);
            let key = utf8_percent_encode(&w.name, NON_ALPHANUMERIC).to_string();
            let latest = entry
                .get_mut("latest_workflows")
                .and_then(Value::as_object_mut)
                .expect("object");
            latest.entry(key).or_insert_with(
                || json!({ "status": state.status, "created_at": w.created_at, "id": w.id }),
            );
            for j in &w.jobs {
                let Some(num) = j.job_number else { continue };
                let js = timeline::job_now(j, now);
                let build = json!({
                    "outcome": if crate::model::job_is_terminal(js.status) { json!(js.status) } else { Value::Null },
                    "status": js.status,
                    "build_num": num,
                    "vcs_revision": vcs.revision,
                    "pushed_at": pl.created_at,
                    "added_at": j.created_at.as_ref().unwrap_or(&w.created_at),
                    "is_workflow_job": true,
                    "is_2_0_job": true,
                });
                let list = if js.status == "running" {
                    "running_builds"
                } else {
                    "recent_builds"
                };
                entry
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .expect("array")
                    .push(build.clone());
                let last = if js.status == "success" {
                    "last_success"
                } else {
                    "last_non_success"
                };
                if crate::model::job_is_terminal(js.status) && entry[last].is_null() {
                    entry.insert(last.into(), json!({ "added_at": build["added_at"], "pushed_at": build["pushed_at"], "vcs_revision": vcs.revision, "build_num": num, "outcome": js.status }));
                }
            }
        }
    }
    // v1.1 keeps only the 5 most recent builds per branch.
    for entry in out.values_mut() {
        if let Some(list) = entry.get_mut("recent_builds").and_then(Value::as_array_mut) {
            list.truncate(5);
        }
    }
    serde_json::to_value(out).expect("json")
}
