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
        Command::Orgs { command } => commands::orgs(command),
        Command::Tokens { command } => commands::tokens(command),
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
