//! The CircleCI plugin's readers and mapping (`plugins/circleci/src/api.rs`,
//! `mapping.rs`) on arbitrary JSON. The body is read as a page of
//! pipelines, of workflows and of jobs (and as the single records and v1.1
//! lists the plugin reads), and every pipeline x workflow pair read is
//! mapped to a build with the jobs read.
//!
//! Properties: the one-pass job reader reads exactly what serde's derived
//! reader reads, item by item (the plugin's own unit test, on any input);
//! re-run attempts count 1..=n per workflow name and a parent is a setup
//! workflow;
//! a page the plugin reads is a page serde reads with the same item count;
//! a pipeline's SHA is lower-case hex of 7 to 40; a build carries its
//! pipeline's SHA and id, its jobs' links are under its own link, and its
//! status is the workflow word's.
#![no_main]

use buildsnap_circleci::api::{Collaboration, Job, Me, Pipeline, V1Project, Workflow, is_sha};
use buildsnap_circleci::items::{Item, Items, Page, from_body};
use buildsnap_circleci::links::Links;
use buildsnap_circleci::logging;
use buildsnap_circleci::mapping::{self, PipelineInfo};
use buildsnap_circleci::status::{job_status, workflow_status};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

fn read<T>(items: Vec<Item<T>>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Read(r) => Some(r),
            Item::Malformed(_) => None,
        })
        .take(4)
        .collect()
}

fn lower_hex_sha(s: &str) -> bool {
    is_sha(s) && s.len() == s.trim().len() && !s.bytes().any(|b| b.is_ascii_uppercase())
}

fuzz_target!(|data: &[u8]| {
    let jobs_page = from_body::<Page<Job>>(data);
    let raw_page = from_body::<RawPage>(data);
    if let Ok(page) = &jobs_page {
        let raw = raw_page
            .as_ref()
            .expect("serde reads the page the plugin reads");
        assert_eq!(page.items.len(), raw.items.len());
        for (item, text) in page.items.iter().zip(&raw.items) {
            let text = text.get();
            if text.trim_start().starts_with('[') {
                assert!(
                    matches!(item, Item::Malformed(_)),
                    "an array read as a job: {text}"
                );
                continue;
            }
            // serde's derived reader (the `reference-readers` feature).
            match (serde_json::from_str::<Job>(text), item) {
                (Ok(d), Item::Read(j)) => assert_eq!(&d, j, "{text}"),
                (Err(_), Item::Malformed(_)) => {}
                (d, j) => panic!("{text}: derived {d:?}, one pass {j:?}"),
            }
        }
    }

    let pipelines = from_body::<Page<Pipeline>>(data)
        .map(|p| read(p.items))
        .unwrap_or_default();
    let workflows = from_body::<Page<Workflow>>(data)
        .map(|p| read(p.items))
        .unwrap_or_default();
    let jobs = jobs_page.map(|p| read(p.items)).unwrap_or_default();
    let _ = from_body::<Pipeline>(data).map(|p| p.sha());
    let _ = from_body::<Items<V1Project>>(data);
    let _ = from_body::<Me>(data);
    let _ = from_body::<Vec<Collaboration>>(data);

    // Re-runs and setup parents: every workflow has a lineage, attempts of
    // one name are 1..=n once each, and a parent is a setup workflow.
    let lineage = mapping::lineage(&workflows);
    for wf in &workflows {
        let l = lineage.of(&wf.id);
        // Attempts count by name, a missing name counting as empty; when
        // ids repeat (real answers never do), the last one's lineage holds.
        let name = |w: &Workflow| w.name.clone().unwrap_or_default();
        let unique_ids = workflows.iter().filter(|w| w.id == wf.id).count() == 1;
        let bound = if unique_ids {
            workflows.iter().filter(|w| name(w) == name(wf)).count()
        } else {
            workflows.len()
        } as u32;
        assert!((1..=bound).contains(&l.attempt), "{l:?} of {bound}");
        if let Some(parent) = &l.parent_id {
            assert!(
                workflows
                    .iter()
                    .any(|w| &w.id == parent && w.tag.as_deref() == Some(mapping::SETUP_TAG)),
                "parent {parent} is not a setup workflow"
            );
        }
    }
    let links = Links::for_base("https://circleci.com");
    for p in &pipelines {
        let sha = p.sha();
        if let Some(sha) = &sha {
            assert!(lower_hex_sha(sha), "pipeline sha {sha:?}");
        }
        let Some(info) = PipelineInfo::from_api(p) else {
            assert!(sha.is_none());
            continue;
        };
        for wf in &workflows {
            let l = lineage.of(&wf.id);
            let b = mapping::build(&links, "gh/acme/app", &info, wf, &l, jobs.clone(), true);
            assert_eq!((b.attempt, &b.parent_id), (l.attempt, &l.parent_id));
            assert_eq!(b.sha, info.sha);
            assert_eq!(b.pipeline_id, p.id);
            assert_eq!(b.id, wf.id);
            assert_eq!(b.status, workflow_status(&b.provider_status));
            assert_eq!(b.jobs.len(), jobs.len());
            for j in &b.jobs {
                assert_eq!(j.status, job_status(&j.provider_status));
                match (&b.url, &j.url) {
                    (Some(w), Some(u)) => assert!(u.starts_with(w.as_str()), "{u} not under {w}"),
                    (None, None) => {}
                    (w, u) => panic!("workflow link {w:?}, job link {u:?}"),
                }
            }
            if let Some(url) = &b.url {
                assert!(
                    url.starts_with("https://app.circleci.com/pipelines/"),
                    "{url}"
                );
            }
        }
    }
    logging::take_lines();
});
