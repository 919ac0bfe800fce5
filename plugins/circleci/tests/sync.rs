//! `sync` against a fake CircleCI.

mod common;

use buildsnap_circleci::sync::{Cursor, sync};
use buildsnap_circleci::wit::*;
use common::*;

const PROJECT: &str = "gh/acme/app";

fn at(i: u32) -> String {
    let total = 12 * 60 - i;
    format!("2024-05-01T{:02}:{:02}:00.000Z", total / 60, total % 60)
}

fn request(cursor: Option<String>, refresh: &[&str]) -> SyncRequest {
    SyncRequest {
        project: "github/acme/app".into(),
        cursor,
        horizon: Horizon {
            max_pipelines: 100,
            not_before: None,
        },
        refresh: refresh.iter().map(|s| s.to_string()).collect(),
    }
}

/// Pipelines p0 (newest) .. p{n-1}, 20 a page, each with workflow w{i} and one job.
fn project(n: u32) -> Fake {
    let fake = Fake::new();
    let items: Vec<_> = (0..n)
        .map(|i| pipeline(&format!("p{i}"), u64::from(100 - i), &sha(i), &at(i)))
        .collect();
    let chunks: Vec<_> = items.chunks(20).collect();
    for (k, chunk) in chunks.iter().enumerate() {
        let url = format!("{BASE}/api/v2/project/{PROJECT}/pipeline");
        let url = if k == 0 {
            url
        } else {
            format!("{url}?page-token=t{}", k + 1)
        };
        let next = (k + 1 < chunks.len()).then(|| format!("t{}", k + 2));
        fake.json(&url, &page(chunk.to_vec(), next.as_deref()));
    }
    for i in 0..n {
        let (p, w) = (format!("p{i}"), format!("w{i}"));
        fake.json(
            &format!("{BASE}/api/v2/pipeline/{p}/workflow"),
            &page(
                vec![workflow(
                    &w,
                    &p,
                    u64::from(100 - i),
                    "build",
                    "success",
                    &at(i),
                )],
                None,
            ),
        );
        fake.json(
            &format!("{BASE}/api/v2/workflow/{w}/job"),
            &page(
                vec![job(
                    &format!("j{i}"),
                    Some(u64::from(i)),
                    "t",
                    "build",
                    "success",
                )],
                None,
            ),
        );
        fake.json(
            &format!("{BASE}/api/v2/workflow/{w}"),
            &workflow(&w, &p, u64::from(100 - i), "build", "running", &at(i)),
        );
        fake.json(
            &format!("{BASE}/api/v2/pipeline/{p}"),
            &pipeline(&p, u64::from(100 - i), &sha(i), &at(i)),
        );
    }
    fake
}

#[test]
fn first_sync_reads_down_to_the_horizon() {
    let fake = project(30);
    let mut req = request(None, &[]);
    req.horizon.max_pipelines = 25;
    let page = sync(&fake, &ctx(BASE), &req).unwrap();
    assert_eq!(page.builds.len(), 25);
    assert_eq!(page.builds[0].id, "w0");
    assert_eq!(page.builds[0].sha, sha(0));
    assert_eq!(
        page.next_cursor,
        Some(
            Cursor {
                created_at: at(0),
                pipeline_id: "p0".into()
            }
            .encode()
        )
    );
    assert_eq!(*fake.batches.borrow(), vec![25, 25]);
    fake.assert_clean();
}

#[test]
fn later_sync_reads_only_new_pipelines_and_refreshes() {
    let fake = project(40);
    // The previous sync ended at p3; p0..p2 are new. w10 and w25 were not
    // final; w1 is new anyway and must not be fetched twice.
    let cursor = Cursor {
        created_at: at(3),
        pipeline_id: "p3".into(),
    }
    .encode();
    let page = sync(
        &fake,
        &ctx(BASE),
        &request(Some(cursor), &["w10", "w25", "w1"]),
    )
    .unwrap();
    let ids: Vec<_> = page.builds.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["w0", "w1", "w2", "w10", "w25"]);
    assert_eq!(
        page.next_cursor.as_deref(),
        Some(
            Cursor {
                created_at: at(0),
                pipeline_id: "p0".into()
            }
            .encode()
            .as_str()
        )
    );
    assert_eq!(fake.count("/api/v2/project/"), 1, "one pipeline page");
    for url in [
        "workflow/w10",
        "workflow/w10/job",
        "pipeline/p10",
        "workflow/w25",
        "workflow/w25/job",
        "pipeline/p25",
        "pipeline/p10/workflow",
        "pipeline/p25/workflow",
        "workflow/w1/job",
    ] {
        assert_eq!(
            fake.count_exact(&format!("{BASE}/api/v2/{url}")),
            1,
            "{url}"
        );
    }
    assert_eq!(
        fake.count_exact(&format!("{BASE}/api/v2/workflow/w1")),
        0,
        "w1 is new: not refetched"
    );
    assert_eq!(
        fake.count_exact(&format!("{BASE}/api/v2/pipeline/p1")),
        0,
        "its pipeline is known"
    );
    // Refresh: one batch of workflows, one of pipelines, one of their
    // workflow lists (to count re-runs), one of job lists.
    assert_eq!(*fake.batches.borrow(), vec![3, 3, 2, 2, 2, 2]);
    // Every request of a sync is conditional.
    assert_eq!(*fake.conditional.borrow(), *fake.requests.borrow());
    let refreshed = page.builds.iter().find(|b| b.id == "w25").unwrap();
    assert_eq!(
        (refreshed.sha.as_str(), refreshed.pipeline_id.as_str()),
        (sha(25).as_str(), "p25")
    );
    assert_eq!(refreshed.jobs.len(), 1);
    assert_eq!(
        refreshed.status,
        Status::Running,
        "the refreshed state, not the listed one"
    );
    fake.assert_clean();
}

#[test]
fn nothing_new_keeps_the_cursor_and_gone_workflows_are_skipped() {
    let fake = project(5);
    let cursor = Cursor {
        created_at: at(0),
        pipeline_id: "p0".into(),
    }
    .encode();
    fake.on(
        &format!("{BASE}/api/v2/workflow/w-old"),
        404,
        r#"{"message":"Workflow not found"}"#,
    );
    let page = sync(
        &fake,
        &ctx(BASE),
        &request(Some(cursor.clone()), &["w-old", "w4"]),
    )
    .unwrap();
    assert_eq!(page.next_cursor, Some(cursor));
    assert_eq!(
        page.builds
            .iter()
            .map(|b| b.id.as_str())
            .collect::<Vec<_>>(),
        ["w4"]
    );
    fake.assert_clean();
}

#[test]
fn foreign_cursor_is_ignored_and_errors_pass_through() {
    let fake = project(3);
    let page = sync(&fake, &ctx(BASE), &request(Some("garbage".into()), &[])).unwrap();
    assert_eq!(page.builds.len(), 3);

    let fake = Fake::new();
    fake.on(
        &format!("{BASE}/api/v2/project/{PROJECT}/pipeline"),
        401,
        r#"{"message":"You must log in first."}"#,
    );
    assert_eq!(
        sync(&fake, &ctx(BASE), &request(None, &[])).unwrap_err(),
        ProviderError::Unauthorized("You must log in first.".into())
    );
}

/// Issue 18, F6: a slug with dot segments sends nothing, like a search.
#[test]
fn slugs_that_would_leave_the_project_path_send_nothing() {
    let fake = Fake::new();
    let req = SyncRequest {
        project: "gh/../../../../internal/admin?x=1#".into(),
        ..request(None, &[])
    };
    match sync(&fake, &ctx(BASE), &req) {
        Err(ProviderError::NotFound(m)) => {
            assert!(m.contains("not a CircleCI project slug"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.requests.borrow().is_empty());
}
