//! From runs to builds: the older attempts and the jobs a run list does not
//! carry, fetched in one `send-batch` (which the host runs one request at a
//! time, as GitHub asks).
//!
//! Economy: one request per older attempt and one job list per run
//! (`filter=all` lists every attempt's jobs), plus a page per 100 jobs.

use std::collections::{BTreeMap, HashSet};

use crate::client::{Client, check, decode, http_error};
use crate::links;
use crate::mapping::{attempt_of, build};
use crate::model::{GhJob, JobList, Run};
use crate::wit::{Build, HttpError, ProviderError, Response};

/// At most this many job pages per list: GitHub caps a run at 256 jobs per
/// attempt and 50 attempts, so a longer chain is a loop.
const MAX_JOB_PAGES: usize = 200;

/// `/repos/{owner}/{repo}` of a project.
pub fn repo_path(owner: &str, repo: &str) -> String {
    let mut p = String::from("/repos/");
    p.push_str(owner);
    p.push('/');
    p.push_str(repo);
    p
}

/// A job list (already checked 2xx) and the pages after it.
fn job_pages(
    client: &Client<'_>,
    first: Response,
    conditional: bool,
) -> Result<Vec<GhJob>, ProviderError> {
    let mut seen = HashSet::new();
    let mut next = links::next(&first.headers);
    let mut jobs = decode::<JobList>(&first)?.jobs;
    while let Some(url) = next {
        if !seen.insert(url.clone()) || seen.len() > MAX_JOB_PAGES {
            break;
        }
        let (page, resp): (JobList, _) = client.get_json(url, conditional)?;
        jobs.extend(page.jobs);
        next = links::next(&resp.headers);
    }
    Ok(jobs)
}

/// A job list answer: its jobs, `None` when GitHub no longer has them (404,
/// or 410 for expired logs), or the error that must stop the call.
fn jobs_of(
    client: &Client<'_>,
    answer: Result<Response, HttpError>,
    conditional: bool,
) -> Result<Option<Vec<GhJob>>, ProviderError> {
    match answer
        .map_err(http_error)
        .and_then(|r| check(client.ctx, r))
    {
        Ok(resp) => job_pages(client, resp, conditional).map(Some),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(ProviderError::Upstream(u)) if u.status == 410 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every attempt of every run as builds, newest run first and, within a
/// run, newest attempt first.
pub fn runs_to_builds(
    client: &Client<'_>,
    repo_path: &str,
    runs: Vec<Run>,
    conditional: bool,
) -> Result<Vec<Build>, ProviderError> {
    // One batch: per run its job list, then its older attempts.
    let mut reqs = Vec::new();
    for run in &runs {
        let base = format!("{repo_path}/actions/runs/{}", run.id);
        reqs.push(client.get(
            client.url(&format!("{base}/jobs?filter=all&per_page=100")),
            conditional,
        ));
        for n in 1..attempt_of(run) {
            reqs.push(client.get(
                client.url(&format!("{base}/attempts/{n}?exclude_pull_requests=true")),
                conditional,
            ));
        }
    }
    let mut answers = client.transport.send_batch(&reqs).into_iter();
    let mut builds = Vec::new();
    for run in runs {
        let jobs = jobs_of(
            client,
            answers
                .next()
                .unwrap_or(Err(HttpError::Other("no answer".into()))),
            conditional,
        )?;
        let mut by_attempt: BTreeMap<u32, Vec<GhJob>> = BTreeMap::new();
        for j in jobs.iter().flatten() {
            by_attempt
                .entry(j.run_attempt.unwrap_or(1))
                .or_default()
                .push(j.clone());
        }
        let latest = attempt_of(&run);
        let mut older = Vec::new();
        for _ in 1..latest {
            let answer = answers
                .next()
                .unwrap_or(Err(HttpError::Other("no answer".into())));
            match answer
                .map_err(http_error)
                .and_then(|r| check(client.ctx, r))
            {
                Ok(resp) => older.push(decode::<Run>(&resp)?),
                // An attempt GitHub no longer shows is left out.
                Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let jobs_for = |n: u32, by: &mut BTreeMap<u32, Vec<GhJob>>| {
            jobs.as_ref().map(|_| by.remove(&n).unwrap_or_default())
        };
        let latest_jobs = jobs_for(latest, &mut by_attempt);
        builds.push(build(run, latest_jobs));
        for attempt in older.into_iter().rev() {
            let n = attempt_of(&attempt);
            let attempt_jobs = jobs_for(n, &mut by_attempt);
            builds.push(build(attempt, attempt_jobs));
        }
    }
    Ok(builds)
}

/// Builds by id (`<run_id>/<attempt>`) read again, with their jobs: one
/// request for the attempt and one for its job list each.
pub fn refresh(
    client: &Client<'_>,
    repo_path: &str,
    ids: &[(u64, u32)],
    conditional: bool,
) -> Result<Vec<Build>, ProviderError> {
    let mut reqs = Vec::with_capacity(ids.len() * 2);
    for (run, n) in ids {
        let base = format!("{repo_path}/actions/runs/{run}/attempts/{n}");
        reqs.push(client.get(
            client.url(&format!("{base}?exclude_pull_requests=true")),
            conditional,
        ));
        reqs.push(client.get(
            client.url(&format!("{base}/jobs?per_page=100")),
            conditional,
        ));
    }
    let mut answers = client.transport.send_batch(&reqs).into_iter();
    let mut builds = Vec::with_capacity(ids.len());
    while let (Some(attempt), Some(jobs)) = (answers.next(), answers.next()) {
        let run = match attempt
            .map_err(http_error)
            .and_then(|r| check(client.ctx, r))
        {
            Ok(resp) => decode::<Run>(&resp)?,
            // Deleted since: nothing to refresh.
            Err(ProviderError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let jobs = jobs_of(client, jobs, conditional)?;
        builds.push(build(run, jobs));
    }
    Ok(builds)
}
