//! Deploy lists paged by cursor: every deploy exactly once, in order, ties
//! included, whatever is registered while a client pages; and the page read
//! is an index seek, not a scan.

mod common;

use buildsnap_store::*;
use common::{on_both, open, seed};

fn at(secs: i64) -> NewDeploy {
    NewDeploy {
        sha: "abcdef1".into(),
        environment: None,
        deployed_at: Some(ts::OffsetDateTime::from_unix_timestamp(1_750_000_000 + secs).unwrap()),
        code_deployment: None,
    }
}

/// Every page of a list, followed to its end.
fn all_pages(s: &Store, project: Option<&str>, limit: u32) -> (Vec<i64>, usize) {
    let (mut ids, mut pages, mut after) = (Vec::new(), 0, None);
    loop {
        let page = s.list_deploys_page("acme", project, limit, after).unwrap();
        pages += 1;
        assert!(page.deploys.len() <= limit as usize);
        ids.extend(page.deploys.iter().map(|d| d.id));
        match page.next {
            // What the client gets back is text; page through that text.
            Some(c) => after = Some(DeployCursor::decode(&c.encode()).unwrap()),
            None => return (ids, pages),
        }
    }
}

#[test]
fn pages_cover_every_deploy_once_in_list_order() {
    on_both("pages_cover_every_deploy_once_in_list_order", |db| {
        let s = db.open();
        seed(&s);
        s.create_project("acme", "api", "API").unwrap();
        s.create_code_deployment(
            "acme",
            "api",
            &NewCodeDeployment {
                slug: "main".into(),
                repo_url: "https://github.com/acme/api".into(),
                branch: "main".into(),
                build_project: None,
                branch_builds_only: false,
            },
        )
        .unwrap();
        // 23 deploys over 9 instants: ties on deployed_at must be ordered by id
        // and split across pages without loss.
        for i in 0..23 {
            let project = if i % 3 == 0 { "api" } else { "web" };
            s.register_deploy("acme", project, &at(i % 9)).unwrap();
        }
        let whole = s.list_deploys("acme", None, 1000).unwrap();
        assert_eq!(whole.len(), 23);
        let order: Vec<i64> = whole.iter().map(|d| d.id).collect();
        for limit in [1, 4, 7, 22, 23, 24] {
            let (ids, pages) = all_pages(&s, None, limit);
            assert_eq!(ids, order, "limit {limit}");
            assert_eq!(
                pages,
                23usize.div_ceil(limit as usize).max(1),
                "limit {limit}"
            );
        }
        let web: Vec<i64> = s
            .list_deploys("acme", Some("web"), 1000)
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(web.len(), 15);
        assert_eq!(all_pages(&s, Some("web"), 4).0, web);
        // The first page of the paged read is the unpaged list.
        let first = s.list_deploys_page("acme", None, 5, None).unwrap();
        assert_eq!(first.deploys, whole[..5].to_vec());
    });
}

#[test]
fn a_deploy_registered_while_paging_neither_repeats_nor_shifts_later_pages() {
    on_both(
        "a_deploy_registered_while_paging_neither_repeats_nor_shifts_later_pages",
        |db| {
            let s = db.open();
            seed(&s);
            for i in 0..10 {
                s.register_deploy("acme", "web", &at(i)).unwrap();
            }
            let first = s.list_deploys_page("acme", None, 4, None).unwrap();
            // A newer deploy arrives, and one at the very instant of the page's
            // last deploy (it sorts before it: a higher id).
            s.register_deploy("acme", "web", &at(100)).unwrap();
            s.register_deploy("acme", "web", &at(6)).unwrap();
            let second = s.list_deploys_page("acme", None, 4, first.next).unwrap();
            let ids: Vec<i64> = second.deploys.iter().map(|d| d.id).collect();
            let expected: Vec<i64> = s
                .list_deploys("acme", None, 1000)
                .unwrap()
                .iter()
                .map(|d| d.id)
                .skip_while(|id| *id != first.deploys[3].id)
                .skip(1)
                .take(4)
                .collect();
            assert_eq!(ids, expected);
            assert!(
                ids.iter()
                    .all(|id| !first.deploys.iter().any(|d| d.id == *id))
            );
        },
    );
}

#[test]
fn an_unknown_project_or_org_is_an_error_not_an_empty_page() {
    on_both(
        "an_unknown_project_or_org_is_an_error_not_an_empty_page",
        |db| {
            let s = db.open();
            seed(&s);
            assert!(matches!(
                s.list_deploys_page("acme", Some("ghost"), 10, None),
                Err(StoreError::ProjectNotFound(_))
            ));
            assert!(matches!(
                s.list_deploys_page("globex", None, 10, None),
                Err(StoreError::OrgNotFound(_))
            ));
            let empty = s.list_deploys_page("acme", None, 10, None).unwrap();
            assert!(empty.deploys.is_empty() && empty.next.is_none());
        },
    );
}

#[test]
fn a_page_read_seeks_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    seed(&s);
    drop(s);
    let db = rusqlite::Connection::open(dir.path().join("buildsnap.db")).unwrap();
    for (owner, index) in [
        ("d.org_id", "deploys_by_org"),
        ("d.project_id", "deploys_by_project"),
    ] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT d.* FROM deploys d WHERE {owner} = 1 AND (d.deployed_at, d.id) < (5, 6)
             ORDER BY d.deployed_at DESC, d.id DESC LIMIT 50"
        );
        let plan: Vec<String> = db
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let plan = plan.join("; ");
        assert!(
            plan.contains(&format!("SEARCH d USING INDEX {index}")),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "no sort step: {plan}");
    }
}
