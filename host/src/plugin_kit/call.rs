//! `buildsnap plugin call <file.wasm> <export>`: run one export of a
//! component in the real sandbox (loaded as a plugins-folder file, the
//! host's HTTP policy, limits and auth header) and print its result as
//! JSON. `--record FILE` writes down every HTTP exchange of the call (the
//! auth header never, the token scrubbed from the rest); `--replay FILE`
//! answers from such a file with no network and fails naming each request
//! it has no answer for. A plugin's tests can use recordings as fixtures.
//!
//! Inputs and results are the contract's types (`wit/since_v0.2.0/`) in
//! serde's shape: record fields in snake_case (`max_pipelines`), variants
//! by their Rust names (`{"Unauthorized": "bad token"}`), absent options
//! allowed. A 0.1.0 component is called through the host's conversions,
//! so it answers in the same shape.

use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::stage::StageError;
use crate::runtime::origin::{AllowList, Origin};
use crate::runtime::outbound::tape::{Recording, Tape};
use crate::runtime::wit::{CommitQuery, ProjectQuery, SyncRequest, WebhookRequest};
use crate::runtime::{CallError, Credential, Integration, Plugin};

/// The exports `plugin call` runs, by their WIT names: the newest
/// contract's (an older component is called through the host's
/// conversions).
pub use crate::runtime::wit::latest::EXPORTS;

/// What to call and how.
#[derive(Debug, Clone, Default)]
pub struct CallArgs {
    /// The component.
    pub file: PathBuf,
    /// The export's WIT name (one of [`EXPORTS`]).
    pub export: String,
    /// The export's input as JSON (`null` or absent for none).
    pub input: Option<String>,
    /// The integration's base URL; the plugin's default when absent. Its
    /// origin is granted for this call.
    pub base_url: Option<String>,
    /// The token, already read from the environment variable the user
    /// named (never a flag: flags show in process lists).
    pub token: Option<String>,
    /// Non-secret integration settings.
    pub settings: Vec<(String, String)>,
    /// Origins granted besides the base URL's.
    pub allow_hosts: Vec<String>,
    /// Write the HTTP exchanges here.
    pub record: Option<PathBuf>,
    /// Answer HTTP from this recording.
    pub replay: Option<PathBuf>,
}

/// Why a call could not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    /// The arguments or input are wrong; nothing ran.
    #[error("{0}")]
    Usage(String),
    /// The component was refused at load.
    #[error("refused: {0}")]
    Refused(String),
    /// The export ran and failed; `output` is printed all the same.
    #[error("{message}")]
    Export {
        /// What went wrong.
        message: String,
        /// `{"error": ...}`, for stdout.
        output: Value,
    },
    /// A replay met requests its recording has no answer for.
    #[error("the recording has no answer for: {}", missing.join(", "))]
    Unanswered {
        /// `METHOD URL` of each.
        missing: Vec<String>,
        /// What the call printed nonetheless.
        output: Value,
    },
}

fn usage(message: impl Into<String>) -> CallFailure {
    CallFailure::Usage(message.into())
}

fn input<T: DeserializeOwned>(export: &str, raw: &Value) -> Result<T, CallFailure> {
    serde_json::from_value(raw.clone())
        .map_err(|e| usage(format!("--input for {export}: {e} (got {raw})")))
}

/// Runs the call; the JSON to print on success.
pub async fn call(args: CallArgs) -> Result<Value, CallFailure> {
    if !EXPORTS.contains(&args.export.as_str()) {
        return Err(usage(format!(
            "unknown export `{}`; one of: {}",
            args.export,
            EXPORTS.join(", ")
        )));
    }
    if args.record.is_some() && args.replay.is_some() {
        return Err(usage("--record and --replay do not go together"));
    }
    let raw: Value = match &args.input {
        Some(text) => {
            serde_json::from_str(text).map_err(|e| usage(format!("--input is not JSON: {e}")))?
        }
        None => Value::Null,
    };
    let tape = match (&args.record, &args.replay) {
        (Some(_), _) => Some(Arc::new(Tape::record())),
        (_, Some(path)) => Some(Arc::new(Tape::replay(
            Recording::read(path).map_err(|e| usage(format!("{e:#}")))?,
        ))),
        _ => None,
    };
    let base = match &args.base_url {
        Some(b) => Some(
            Url::parse(b)
                .ok()
                .filter(|u| Origin::of(u).is_some())
                .ok_or_else(|| usage(format!("--base-url `{b}` is not an http(s) URL")))?,
        ),
        None => None,
    };
    let mut patterns = args.allow_hosts.clone();
    if let Some(origin) = base.as_ref().and_then(Origin::of) {
        patterns.push(origin.to_string());
    }
    let grants = AllowList::parse(&patterns.join(",")).map_err(|e| usage(format!("{e:#}")))?;
    let staged = super::stage::load(&args.file, grants, tape.clone())
        .await
        .map_err(|e| match e {
            StageError::Read(m) => usage(m),
            StageError::Refused(m) => CallFailure::Refused(m),
        })?;
    let plugin = &staged.plugin;
    let integration = Integration {
        org: None,
        base_url: base.unwrap_or_else(|| plugin.info.default_base_url.clone()),
        settings: args.settings.clone(),
        credential: args.token.clone().map(Credential::new),
    };
    let result = run(plugin, &args.export, &raw, &integration).await?;
    if let (Some(tape), Some(path)) = (&tape, &args.record) {
        let text = serde_json::to_string_pretty(&tape.recording()).expect("recording is JSON");
        std::fs::write(path, text + "\n")
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    }
    let missing = tape.as_ref().map(|t| t.missing()).unwrap_or_default();
    let output = match &result {
        Ok(v) => v.clone(),
        Err(e) => json!({ "error": e.to_string() }),
    };
    if !missing.is_empty() {
        return Err(CallFailure::Unanswered { missing, output });
    }
    result.map_err(|e| CallFailure::Export {
        message: e.to_string(),
        output,
    })
}

/// One export; `Err` of the outer result is bad input, of the inner one
/// the export's own failure.
async fn run(
    plugin: &Plugin,
    export: &str,
    raw: &Value,
    integration: &Integration,
) -> Result<Result<Value, CallError>, CallFailure> {
    fn out<T: serde::Serialize>(r: Result<T, CallError>) -> Result<Value, CallError> {
        r.map(|v| serde_json::to_value(v).expect("contract types serialize"))
    }
    Ok(match export {
        "describe" => out(plugin.describe().await),
        "token-help-url" => out(plugin.token_help_url(integration).await),
        "validate-credentials" => out(plugin.validate_credentials(integration).await),
        "list-projects" => {
            let query = match raw {
                Value::Null => ProjectQuery {
                    search: None,
                    cursor: None,
                    limit: 20,
                },
                v => input(export, v)?,
            };
            out(plugin.list_projects(integration, &query).await)
        }
        "project-for-repo" => {
            let repo = raw["repo_url"]
                .as_str()
                .ok_or_else(|| usage("--input for project-for-repo: {\"repo_url\": \"...\"}"))?;
            let base = integration.base_url.as_str();
            out(plugin.project_for_repo(Some(base), repo).await)
        }
        "resolve-sha" => {
            let (Some(project), Some(prefix)) = (raw["project"].as_str(), raw["prefix"].as_str())
            else {
                return Err(usage(
                    "--input for resolve-sha: {\"project\": \"...\", \"prefix\": \"...\"}",
                ));
            };
            out(plugin.resolve_sha(integration, project, prefix).await)
        }
        "builds-for-commit" => {
            let query: CommitQuery = input(export, raw)?;
            out(plugin.builds_for_commit(integration, &query).await)
        }
        "sync" => {
            let req: SyncRequest = input(export, raw)?;
            out(plugin.sync(integration, &req).await)
        }
        "parse-webhook" => {
            let req: WebhookRequest = input(export, raw)?;
            out(plugin.parse_webhook(integration, &req).await)
        }
        _ => unreachable!("checked against EXPORTS"),
    })
}
