//! The `pipeline` and `workflow` objects of a delivery body, as CircleCI
//! sends them.

use super::*;

pub(super) fn pipeline_json(pl: &Pipeline) -> Value {
    let mut v = json!({
        "id": pl.id, "number": pl.number, "created_at": pl.created_at,
        "trigger": { "type": pl.trigger.kind },
    });
    if let Some(tp) = &pl.trigger_parameters {
        v["trigger_parameters"] = tp.clone();
    }
    if let Some(vcs) = &pl.vcs {
        // Webhooks spell the provider in lowercase, unlike the REST API.
        let mut out = json!({
            "provider_name": vcs.provider_name.to_lowercase(),
            "origin_repository_url": vcs.origin_repository_url,
            "target_repository_url": vcs.target_repository_url,
            "revision": vcs.revision,
        });
        if let Some(b) = &vcs.branch {
            out["branch"] = json!(b);
        }
        if let Some(t) = &vcs.tag {
            out["tag"] = json!(t);
        }
        if let Some(c) = vcs.extra.get("commit") {
            out["commit"] = c.clone();
        }
        v["vcs"] = out;
    }
    v
}

pub(super) fn workflow_json(project: &Project, pl: &Pipeline, wf: &Workflow) -> Value {
    json!({
        "id": wf.id, "name": wf.name, "created_at": wf.created_at,
        "url": format!("https://app.circleci.com/pipelines/{}/{}/workflows/{}", slug::long_form(&project.slug), pl.number, wf.id),
    })
}
