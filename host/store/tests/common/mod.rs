//! Set-up shared by the store's integration tests.
#![allow(dead_code)] // each test crate uses a different part

use buildsnap_store::*;

pub fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap()
}

pub fn account() -> Account {
    Account {
        id: "1".into(),
        login: "octo".into(),
        name: "Octo".into(),
    }
}

/// org acme, project web with code deployment main, circleci enabled and its build server.
pub fn seed(s: &Store) {
    s.create_org("acme", "Acme").unwrap();
    s.create_project("acme", "web", "Web").unwrap();
    let cd = NewCodeDeployment {
        slug: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: Some("gh/acme/web".into()),
        branch_builds_only: false,
    };
    s.create_code_deployment("acme", "web", &cd).unwrap();
    s.enable_integration(
        "acme",
        "circleci",
        "https://circleci.com",
        &ProviderToken::new("tok-123456".into()),
        &account(),
    )
    .unwrap();
    s.set_default_build_server("acme", "circleci", "web")
        .unwrap();
}

/// A frozen build with only an id and a status worth looking at.
pub fn frozen(id: &str, status: buildsnap_domain::Status) -> buildsnap_domain::FrozenBuild {
    buildsnap_domain::FrozenBuild {
        attempt: 1,
        parent_id: None,
        branch: None,
        created_at: "2025-06-01T11:00:00Z".into(),
        id: id.into(),
        jobs: vec![],
        jobs_complete: true,
        name: "build".into(),
        pipeline_id: "p1".into(),
        pipeline_number: None,
        provider_status: status.as_str().into(),
        sha: "a".repeat(40),
        status,
        stopped_at: None,
        tag: None,
        url: None,
    }
}

/// A search report as a plugin would give it.
pub fn report(pipelines: u32) -> buildsnap_domain::SearchReport {
    buildsnap_domain::SearchReport {
        oldest_searched: None,
        pages_fetched: 1,
        pipelines_searched: pipelines,
        stopped_because: buildsnap_domain::StopReason::EndOfHistory,
        without_commit: 0,
    }
}

/// A deploy of `sha` to acme/web registered now.
pub fn deploy_now(s: &Store, sha: &str) -> Deploy {
    s.register_deploy(
        "acme",
        "web",
        &NewDeploy {
            sha: sha.into(),
            environment: None,
            deployed_at: None,
            code_deployment: None,
        },
    )
    .unwrap()
}
