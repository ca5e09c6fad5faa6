//! `avatarium`: the command-line face of the engine. Each command prints the JSON
//! envelope of the call it makes and exits non-zero when `errorCode` is not 0; `serve`
//! runs the REST endpoint (see `serve/` and docs/rest.md).

// Memory safety rests on the compiler alone: no unsafe code here (issue 14).
#![forbid(unsafe_code)]

mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use avatarium::{Client, Config};
use base64::Engine;
use clap::{Parser, Subcommand};
use serde_json::{json, Map, Value};

#[derive(Parser, Debug)]
#[command(
    name = "avatarium",
    version,
    about = "Import, publish and serve users' profile photos"
)]
struct Cli {
    /// Operator configuration (TOML). AVATARIUM_<KEY> environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,

    /// Home of the embedded default store (overrides the config file and environment).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,

    /// The account, as a trusted server-side UID.
    #[arg(long, global = true, conflicts_with = "reg_token")]
    uid: Option<String>,

    /// The account, as a regToken from `init-registration`.
    #[arg(long, global = true)]
    reg_token: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import a photo from an http(s) URL, or upload a local file's bytes.
    Import {
        /// An http:// or https:// URL, or a path to a GIF, PNG or JPEG file.
        source: String,
        /// Publish at once instead of keeping the photo pending.
        #[arg(long)]
        publish: bool,
    },
    /// Publish the pending photo.
    Publish,
    /// Show the account: UID, isRegistered, published photo URLs.
    Info,
    /// Remove the published and the pending photo.
    Remove,
    /// Delete expired pending photos and unreferenced blobs.
    Purge,
    /// Show the site policy, or set the thumbnail size.
    Policies {
        #[arg(long, requires = "height")]
        width: Option<u32>,
        #[arg(long, requires = "width")]
        height: Option<u32>,
    },
    /// Create a pending account and print its regToken.
    InitRegistration,
    /// Finalize the registration of --reg-token.
    FinalizeRegistration,
    /// Make any API call: a method name and a JSON object of parameters.
    Call {
        method: String,
        #[arg(default_value = "{}")]
        params: String,
    },
    /// Run the REST endpoint (Gigya's REST shape) for the sites of the configuration.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AVATARIUM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("avatarium: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run(cli));
    // Bounded: pipeline work that ignored its cancel flag does not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn run(cli: Cli) -> ExitCode {
    if let Command::Serve(args) = &cli.command {
        return serve::run(args, cli.config.as_deref(), cli.data_dir.as_deref()).await;
    }
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("avatarium: {e}");
            return ExitCode::from(2);
        }
    };
    let client = match Client::open(config).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("avatarium: {e}");
            return ExitCode::from(2);
        }
    };
    let (method, params) = match request(&cli) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("avatarium: {e}");
            return ExitCode::from(2);
        }
    };
    let response = if method == "purge" {
        client.purge_response().await
    } else {
        client.call(&method, &Value::Object(params)).await
    };
    println!(
        "{}",
        serde_json::to_string_pretty(response.envelope().as_map())
            .unwrap_or_else(|_| response.to_json())
    );
    // A decode past its deadline is cancelled rather than waited for at exit.
    let _ = client.close().await;
    if response.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn load_config(cli: &Cli) -> Result<Config, avatarium::Error> {
    let mut config = match &cli.config {
        Some(path) => Config::from_toml_file(path)?,
        None => Config::default(),
    }
    .with_env()?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

/// The API method and its parameters for a command.
fn request(cli: &Cli) -> Result<(String, Map<String, Value>), String> {
    let mut params = Map::new();
    if let Some(uid) = &cli.uid {
        params.insert("UID".into(), Value::from(uid.as_str()));
    }
    if let Some(token) = &cli.reg_token {
        params.insert("regToken".into(), Value::from(token.as_str()));
    }
    let method = match &cli.command {
        Command::Import { source, publish } => {
            params.insert("publish".into(), Value::from(*publish));
            let lower = source.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                params.insert("url".into(), Value::from(source.as_str()));
                "accounts.importProfilePhoto"
            } else {
                let bytes = std::fs::read(source).map_err(|e| format!("{source}: {e}"))?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                params.insert("photoBytes".into(), Value::from(encoded));
                "accounts.setProfilePhoto"
            }
        }
        Command::Publish => "accounts.publishProfilePhoto",
        Command::Info => "accounts.getAccountInfo",
        Command::Remove => "accounts.removeProfilePhoto",
        Command::Purge => "purge",
        Command::Policies { width, height } => match (width, height) {
            (Some(w), Some(h)) => {
                params.insert(
                    "profilePhoto".into(),
                    json!({ "thumbnailWidth": w, "thumbnailHeight": h }),
                );
                "accounts.setPolicies"
            }
            _ => "accounts.getPolicies",
        },
        Command::InitRegistration => "accounts.initRegistration",
        Command::FinalizeRegistration => "accounts.finalizeRegistration",
        Command::Serve(_) => return Err("serve is not an API call".into()),
        Command::Call {
            method,
            params: text,
        } => {
            let extra: Value =
                serde_json::from_str(text).map_err(|e| format!("params are not JSON: {e}"))?;
            let Value::Object(extra) = extra else {
                return Err("params must be a JSON object".into());
            };
            params.extend(extra);
            return Ok((method.clone(), params));
        }
    };
    Ok((method.to_string(), params))
}
