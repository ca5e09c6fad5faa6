//! `avatarium`: the command-line face of the engine. Each command prints the JSON
//! envelope of the call it makes and exits non-zero when `errorCode` is not 0; `serve`
//! runs the REST endpoint (see `serve/` and docs/rest.md).

// Memory safety rests on the compiler alone: no unsafe code here (issue 14).
#![forbid(unsafe_code)]

mod batch;
mod generate;
mod logging;
mod serve;

/// See cli/Cargo.toml: RSS that follows the live heap under `serve`'s load.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use avatarium::{
    Client, Config, Identity, Method, PolicyChange, Request, ThumbnailCrop, ThumbnailScales,
};
use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Parser, Debug)]
#[command(
    name = "avatarium",
    version,
    about = "Import, publish and serve users' profile photos",
    after_help = EXAMPLES
)]
struct Cli {
    /// Operator configuration (TOML). AVATARIUM_<KEY> environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,

    /// Home of the embedded default store (overrides the config file and environment).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  avatarium import https://example.com/me.jpg --uid u1 --publish
  avatarium import ./me.png --uid u1         (kept pending)
  avatarium publish --uid u1
  avatarium init-registration                (prints a regToken)
  avatarium import ./me.png --reg-token <regToken> --publish
  avatarium call accounts.getAccountInfo '{\"UID\": \"u1\"}'
  avatarium --config avatarium.toml serve --listen 127.0.0.1:8080
  avatarium import-batch accounts.jsonl --report results.jsonl
  avatarium import-batch users.csv --concurrency 16 --per-host 4 --no-publish
  avatarium import-batch accounts.jsonl --retry-failed     (rerun: only the failed rows)
  avatarium import-batch accounts.jsonl --shard 2/4        (this process's quarter)
  gunzip -c export.jsonl.gz | avatarium import-batch -

Each API command prints the call's JSON envelope.
Exit status: 0 the call succeeded (errorCode 0); 1 the call was answered with an error
(errorCode in the printed envelope); 2 the command could not be made (usage, configuration,
an unreadable file; a message on stderr, no envelope).
import-batch prints a table of rows per errorCode; it exits 0 when every row has
errorCode 0, 1 when some row failed, 2 when the batch could not be made, 130 when
interrupted (rerun the same command to resume).";

/// The account a command acts on: one of the two (the core refuses both or neither).
#[derive(clap::Args, Debug)]
struct Account {
    /// The account, as a trusted server-side UID.
    #[arg(long)]
    uid: Option<String>,
    /// The account, as a regToken from `init-registration`.
    #[arg(long)]
    reg_token: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import a photo from an http(s) URL, or upload a local file's bytes.
    Import {
        /// An http:// or https:// URL, or a path to a GIF, PNG, JPEG or WebP file.
        source: String,
        /// Publish at once instead of keeping the photo pending.
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        account: Account,
    },
    /// Publish the pending photo.
    Publish(Account),
    /// Show the account: UID, isRegistered, published photo URLs.
    Info(Account),
    /// Remove the published and the pending photo.
    Remove(Account),
    /// Delete expired pending photos and unreferenced blobs.
    Purge,
    /// Show the site policy, or set the thumbnail size, crop or scales (what is left out is
    /// kept).
    Policies {
        #[arg(long)]
        width: Option<u32>,
        #[arg(long)]
        height: Option<u32>,
        /// `center` or `attention`.
        #[arg(long)]
        crop: Option<String>,
        /// Thumbnail scales, comma-separated: `1,2,3`.
        #[arg(long, value_delimiter = ',')]
        scales: Option<Vec<i64>>,
    },
    /// Create a pending account and print its regToken.
    InitRegistration,
    /// Finalize the registration of --reg-token.
    FinalizeRegistration {
        /// The regToken `init-registration` printed.
        #[arg(long)]
        reg_token: Option<String>,
    },
    /// Make any API call: a method name and a JSON object of parameters.
    Call {
        method: String,
        #[arg(default_value = "{}")]
        params: String,
    },
    /// Run the REST endpoint (Gigya's REST shape) for the sites of the configuration.
    Serve(serve::ServeArgs),
    /// Import (and publish) the photos of a whole user base: JSON Lines or CSV rows of
    /// UID and URL; resumable, sharded, with progress and a report.
    ImportBatch(batch::ImportBatchArgs),
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().is_some_and(|a| a == generate::NAME) {
        return generate::run::<Cli>(args.skip(1));
    }
    let cli = Cli::parse();
    // Only serve's configuration file may set the log format (other commands' files are
    // core configuration alone).
    let serve_config = match &cli.command {
        Command::Serve(_) => cli.config.as_deref(),
        _ => None,
    };
    match logging::format_for(serve_config) {
        Ok(format) => logging::init(format),
        Err(e) => {
            eprintln!("avatarium: {e}");
            return ExitCode::from(2);
        }
    }
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
    if let Command::ImportBatch(args) = &cli.command {
        return batch::run(args, config).await;
    }
    // The command line first: a mistyped one opens (and creates) no store.
    let call = match command(&cli) {
        Ok(call) => call,
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
    let response = match call {
        Call::Typed(method, request) => match request {
            Ok(request) => client.run(request).await,
            Err(e) => client.refused(method, e),
        },
        Call::Generic(method, params) => client.call(&method, &params).await,
        Call::Purge => client.purge_response().await,
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

/// What a command asks the engine for.
enum Call {
    /// A typed request, or the core's reason it cannot be one (answered as a refusal).
    Typed(Method, Result<Request, avatarium::Error>),
    /// `call METHOD PARAMS`: Gigya's generic form.
    Generic(String, Value),
    Purge,
}

/// `policies` with something to set; the crop's and the scales' rules are the core's.
fn policy_change(
    width: Option<u32>,
    height: Option<u32>,
    crop: &Option<String>,
    scales: &Option<Vec<i64>>,
) -> Result<Request, avatarium::Error> {
    Ok(Request::SetPolicies(PolicyChange {
        thumbnail_width: width,
        thumbnail_height: height,
        thumbnail_crop: crop.as_deref().map(ThumbnailCrop::from_name).transpose()?,
        thumbnail_scales: scales
            .as_deref()
            .map(ThumbnailScales::from_list)
            .transpose()?,
    }))
}

/// The call a command makes. The core owns every parameter rule: this only gathers the
/// command line's values into a [`Request`].
fn command(cli: &Cli) -> Result<Call, String> {
    let who =
        |account: &Account| Identity::from_parts(account.uid.clone(), account.reg_token.clone());
    let typed = |method: Method, request: Result<Request, avatarium::Error>| {
        Ok(Call::Typed(method, request))
    };
    match &cli.command {
        Command::Import {
            source,
            publish,
            account,
        } => {
            let publish = *publish;
            match photo_source(source)? {
                PhotoSource::Url => typed(
                    Method::ImportProfilePhoto,
                    who(account).map(|who| Request::ImportProfilePhoto {
                        who,
                        url: source.clone(),
                        publish,
                    }),
                ),
                PhotoSource::File(photo) => typed(
                    Method::SetProfilePhoto,
                    who(account).map(|who| Request::SetProfilePhoto {
                        who,
                        photo: photo.into(),
                        publish,
                    }),
                ),
            }
        }
        Command::Publish(account) => typed(
            Method::PublishProfilePhoto,
            who(account).map(|who| Request::PublishProfilePhoto { who }),
        ),
        Command::Info(account) => typed(
            Method::GetAccountInfo,
            who(account).map(|who| Request::GetAccountInfo { who }),
        ),
        Command::Remove(account) => typed(
            Method::RemoveProfilePhoto,
            who(account).map(|who| Request::RemoveProfilePhoto { who }),
        ),
        Command::Purge => Ok(Call::Purge),
        Command::Policies {
            width: None,
            height: None,
            crop: None,
            scales: None,
        } => typed(Method::GetPolicies, Ok(Request::GetPolicies)),
        Command::Policies {
            width,
            height,
            crop,
            scales,
        } => typed(
            Method::SetPolicies,
            policy_change(*width, *height, crop, scales),
        ),
        Command::InitRegistration => typed(Method::InitRegistration, Ok(Request::InitRegistration)),
        Command::FinalizeRegistration { reg_token } => typed(
            Method::FinalizeRegistration,
            reg_token
                .clone()
                .ok_or_else(|| avatarium::Error::missing("regToken"))
                .map(|reg_token| Request::FinalizeRegistration { reg_token }),
        ),
        Command::Serve(_) => Err("serve is not an API call".into()),
        Command::ImportBatch(_) => Err("import-batch is not one API call".into()),
        Command::Call { method, params } => {
            let params: Value =
                serde_json::from_str(params).map_err(|e| format!("params are not JSON: {e}"))?;
            if !params.is_object() {
                return Err("params must be a JSON object".into());
            }
            Ok(Call::Generic(method.clone(), params))
        }
    }
}

enum PhotoSource {
    Url,
    File(Vec<u8>),
}

/// `import`'s argument: an http(s) URL for the fetcher, else a local file whose bytes are
/// uploaded. Anything with another scheme (`file://`, `ftp://`) is refused by name rather
/// than read as a path that does not exist.
fn photo_source(source: &str) -> Result<PhotoSource, String> {
    const WHAT: &str =
        "give an http:// or https:// URL, or the path of a GIF, PNG, JPEG or WebP file";
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(PhotoSource::Url);
    }
    let path = std::path::Path::new(source);
    if let Some((scheme, _)) = source.split_once("://") {
        if !path.exists() {
            return Err(format!(
                "{source}: a {scheme}:// URL is neither an http(s) URL nor an existing file ({WHAT})"
            ));
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(PhotoSource::File(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{source}: no such file, and not an http(s) URL ({WHAT})"
        )),
        Err(e) => Err(format!("{source}: {e}")),
    }
}
