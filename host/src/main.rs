use clap::Parser;

use buildsnap::cli::PluginCommand;
use buildsnap::cli::{Cli, Command};
use buildsnap::{commands, demo, logging, pipeline, plugin_kit, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => match args.settings() {
            Ok(settings) => match logging::init(&settings.log, settings.log_format) {
                Ok(()) => serve::run(settings).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        },
        // Blocking store calls: off the async workers (the PostgreSQL
        // client panics on one).
        Command::Orgs { command } => blocking(move || commands::orgs(command)).await,
        Command::Tokens { command } => blocking(move || commands::tokens(command)).await,
        Command::MigrateStore(args) => {
            // The copy's progress lines (a table each) at info.
            let _ = logging::init("warn", buildsnap::cli::LogFormat::Text);
            blocking(move || commands::migrate_store(args)).await
        }
        Command::Providers { command } => {
            let _ = logging::init("warn", buildsnap::cli::LogFormat::Text);
            commands::providers(command).await
        }
        Command::Demo(args) => match logging::init(&args.log, buildsnap::cli::LogFormat::Text) {
            Ok(()) => demo::run(args).await,
            Err(e) => Err(e),
        },
        // The pipeline commands choose their own exit codes (2: still
        // pending or running).
        Command::Plugin {
            command:
                PluginCommand::Check {
                    file,
                    json,
                    allow_hosts,
                },
        } => {
            // The report says everything; the loader's own log lines
            // would name the staging folder.
            let _ = logging::init("off", buildsnap::cli::LogFormat::Text);
            plugin_kit::check(&file, &allow_hosts).await.map(|r| {
                if json {
                    println!("{}", serde_json::to_string(&r).unwrap_or_default());
                } else {
                    print!("{}", r.text());
                }
            })
        }
        Command::Plugin {
            command:
                PluginCommand::Call {
                    file,
                    export,
                    input,
                    base_url,
                    token_env,
                    settings,
                    allow_hosts,
                    record,
                    replay,
                },
        } => {
            let _ = logging::init("off", buildsnap::cli::LogFormat::Text);
            let token = match token_env.map(|var| std::env::var(&var).map_err(|_| var)) {
                Some(Err(var)) => {
                    eprintln!("buildsnap: --token-env {var}: the variable is not set");
                    return std::process::ExitCode::FAILURE;
                }
                Some(Ok(token)) => Some(token),
                None => None,
            };
            let args = plugin_kit::CallArgs {
                file,
                export,
                input,
                base_url,
                token,
                settings,
                allow_hosts,
                record,
                replay,
            };
            return match plugin_kit::call(args).await {
                Ok(output) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&output).unwrap_or_default()
                    );
                    std::process::ExitCode::SUCCESS
                }
                Err(failure) => {
                    use plugin_kit::CallFailure::{Export, Unanswered};
                    if let Export { output, .. } | Unanswered { output, .. } = &failure {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(output).unwrap_or_default()
                        );
                    }
                    eprintln!("buildsnap: {failure}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Plugin {
            command: PluginCommand::New { id, dir },
        } => plugin_kit::new_plugin(&id, dir.as_deref()).map(|made| {
            println!(
                "created {} ({}, contract {}) in {}:",
                id,
                made.crate_name,
                plugin_kit::CONTRACT,
                made.dir.display()
            );
            for file in &made.files {
                println!("  {file}");
            }
            println!(
                "next: cd {} && cargo test; its README.md says how to build the component",
                made.dir.display()
            );
        }),
        Command::Deploy(args) => return exit(pipeline::run_deploy(args).await),
        Command::Gate(args) => return exit(pipeline::run_gate(args).await),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("buildsnap: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The exit code of a pipeline command; an error is 1, after its message.
fn exit(result: anyhow::Result<u8>) -> std::process::ExitCode {
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) => {
            eprintln!("buildsnap: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `f` on the blocking thread pool.
async fn blocking(f: impl FnOnce() -> anyhow::Result<()> + Send + 'static) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(f).await?
}
