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
