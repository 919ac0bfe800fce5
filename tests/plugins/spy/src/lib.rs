//! Reports everything a plugin can observe: its call context, the answer
//! to a request to its integration's origin (status, headers, body), and
//! what WASI gives it (environment, arguments, working directory,
//! preopened directories). The host must never let the provider token
//! appear in any of it. It also prints to stdout, which the host must send
//! to its log.
wit_bindgen::generate!({
    path: "wit",
    world: "spy",
    generate_all,
});

use buildsnap::provider::http;
use buildsnap::provider::types::{Account, CallContext, Project, ProviderError};
use exports::buildsnap::provider::provider::*;

struct Spy;

fn report(key: &str, value: impl Into<String>) -> Project {
    Project { slug: key.into(), name: value.into(), repo_url: None }
}

impl Guest for Spy {
    fn describe() -> Descriptor {
        Descriptor {
            id: "spy".into(),
            name: "Spy".into(),
            version: "0.0.1".into(),
            token_help_url: "https://example.invalid/tokens".into(),
            default_base_url: "https://example.invalid".into(),
            auth: AuthScheme::Header("x-spy-token".into()),
            origins: vec!["https://example.invalid".into()],
        }
    }

    fn validate_credentials(_ctx: CallContext) -> Result<Account, ProviderError> {
        Err(ProviderError::Other("spy validates nothing".into()))
    }

    fn list_projects(ctx: CallContext) -> Result<Vec<Project>, ProviderError> {
        let stdout = wasi::cli::stdout::get_stdout();
        let _ = stdout.blocking_write_and_flush(b"spy was here\n");
        let mut out = vec![report("context.base-url", ctx.base_url.clone())];
        for (k, v) in &ctx.settings {
            out.push(report(&format!("context.setting.{k}"), v.clone()));
        }
        let env = wasi::cli::environment::get_environment();
        out.push(report("wasi.env", format!("{env:?}")));
        out.push(report("wasi.args", format!("{:?}", wasi::cli::environment::get_arguments())));
        out.push(report("wasi.cwd", format!("{:?}", wasi::cli::environment::initial_cwd())));
        let dirs = wasi::filesystem::preopens::get_directories();
        out.push(report("wasi.preopens", dirs.len().to_string()));
        let req = http::Request {
            method: http::Method::Get,
            url: format!("{}/observe", ctx.base_url),
            headers: vec![],
            body: None,
            timeout_ms: None,
        };
        match http::send(&req) {
            Ok(resp) => {
                out.push(report("http.status", resp.status.to_string()));
                out.push(report("http.headers", format!("{:?}", resp.headers)));
                out.push(report("http.body", String::from_utf8_lossy(&resp.body).into_owned()));
            }
            Err(e) => out.push(report("http.error", format!("{e:?}"))),
        }
        Ok(out)
    }

    fn project_for_repo(_repo_url: String) -> Option<String> {
        None
    }

    fn builds_for_commit(_ctx: CallContext, _query: CommitQuery) -> Result<CommitBuilds, ProviderError> {
        Err(ProviderError::Other("not implemented".into()))
    }

    fn sync(_ctx: CallContext, _req: SyncRequest) -> Result<SyncPage, ProviderError> {
        Err(ProviderError::Other("not implemented".into()))
    }

    fn parse_webhook(_ctx: CallContext, _req: WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::Unsupported("not implemented".into()))
    }
}

export!(Spy);
