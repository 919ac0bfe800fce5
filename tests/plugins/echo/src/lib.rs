//! A well-behaved plugin that fetches what it is told to. Each setting
//! `get` (one or more) is a URL to fetch with `send`; settings `batch`
//! are fetched together with `send-batch`. `list-projects` returns one
//! project per request: slug = the URL, name = `status <code> <body>` or
//! `error <variant>: <detail>`. `validate-credentials` fetches
//! `<base-url>/me` and returns its body as the account name.
use guest_kit::*;

struct Echo;

fn get(url: &str) -> http::Request {
    http::Request { method: http::Method::Get, url: url.into(), headers: vec![], body: None, timeout_ms: None }
}

fn outcome(result: Result<http::Response, http::Error>) -> String {
    match result {
        Ok(r) => format!("status {} {}", r.status, String::from_utf8_lossy(&r.body)),
        Err(http::Error::Denied(why)) => format!("error denied: {why}"),
        Err(http::Error::Timeout) => "error timeout".into(),
        Err(http::Error::Connect(why)) => format!("error connect: {why}"),
        Err(http::Error::TooLarge(cap)) => format!("error too-large: {cap}"),
        Err(http::Error::Other(why)) => format!("error other: {why}"),
    }
}

impl Behaviour for Echo {
    const ID: &'static str = "echo";

    fn describe() -> Descriptor {
        Descriptor {
            id: "echo".into(),
            name: "Echo".into(),
            version: "0.0.1".into(),
            token_help_url: "https://example.invalid/tokens".into(),
            default_base_url: "https://example.invalid".into(),
            auth: AuthScheme::Header("x-echo-token".into()),
            origins: vec!["https://example.invalid".into()],
        }
    }

    fn validate_credentials(ctx: CallContext) -> Result<Account, ProviderError> {
        let answer = http::send(&get(&format!("{}/me", ctx.base_url))).map_err(|e| ProviderError::Other(outcome(Err(e))))?;
        if answer.status == 401 {
            return Err(ProviderError::Unauthorized(String::from_utf8_lossy(&answer.body).into_owned()));
        }
        Ok(Account { id: "1".into(), login: "echo".into(), name: String::from_utf8_lossy(&answer.body).into_owned() })
    }

    fn list_projects(ctx: CallContext) -> Result<Vec<Project>, ProviderError> {
        let mut projects = Vec::new();
        for (key, url) in &ctx.settings {
            if key == "get" {
                projects.push(Project { slug: url.clone(), name: outcome(http::send(&get(url))), repo_url: None });
            }
        }
        let batch: Vec<&String> = ctx.settings.iter().filter(|(k, _)| k == "batch").map(|(_, v)| v).collect();
        if !batch.is_empty() {
            let answers = http::send_batch(&batch.iter().map(|u| get(u)).collect::<Vec<_>>());
            for (url, answer) in batch.into_iter().zip(answers) {
                projects.push(Project { slug: url.clone(), name: outcome(answer), repo_url: None });
            }
        }
        Ok(projects)
    }
}

test_plugin!(Echo);
