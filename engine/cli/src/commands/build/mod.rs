//! `build` (Docker 20.10's client for its classic builder) and `builder prune`.
//!
//! A build, in docker/cli's order: check the flags, remove a stale `--iidfile`, find the
//! context and the Dockerfile (`context`; a git URL is cloned first, `git`), send the context
//! as a tar (`context_tar`, `upload`, with the `progress` line) with the query docker/cli
//! sends (`query`), show the daemon's JSON stream (`display`), then print the id (`-q`) and
//! write `--iidfile`.

mod context;
mod context_tar;
mod display;
mod git;
mod progress;
mod query;
mod upload;

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use berth_api::client::{Client, query as encode_query};
use http::Method;
use http::header::{HeaderMap, HeaderValue};

use super::{Failure, Outcome};
use crate::cli::{BuildArgs, BuilderPruneArgs};
use context::ContextError;
use display::StreamError;
use progress::{Progress, Sink};

/// What docker/cli 20.10 says of `--stream` (on stderr, then the build goes on).
const STREAM_DEPRECATED: &str =
    "DEPRECATED: The experimental --stream flag has been removed and the build context
            will be sent non-streaming. Enable BuildKit instead with DOCKER_BUILDKIT=1
            to stream build context, see https://docs.docker.com/go/buildkit/

";

/// `berth build` (`command` is the path typed after the program: `build`, `image build`…).
pub async fn build(client: &Client, args: BuildArgs, command: &str) -> Outcome {
    // Sizes and ulimits are flag values: refused before anything else, as pflag refuses them.
    let proxies = super::registry::configured_proxies(&format!("unix://{}", client.socket().display()));
    query::pairs(&args, "", &proxies).map_err(|e| Failure {
        message: format!("{e}\n{}", super::container::see_help(command)),
        status: 125,
    })?;
    if args.squash && !daemon_is_experimental(client).await? {
        return Err(Failure::new(
            "\"--squash\" is only supported on a Docker daemon with experimental features enabled",
        ));
    }
    if args.stream {
        eprint!("{STREAM_DEPRECATED}");
    }
    // With -q the progress and the build's output are kept, and shown only if it fails.
    let sink = if args.quiet {
        Sink::Kept(Arc::default())
    } else {
        Sink::Stdout
    };
    if !args.iidfile.is_empty() {
        // No stale id is left behind if this build fails.
        match std::fs::remove_file(&args.iidfile) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                let error = context::go_error("remove", args.iidfile.as_ref(), &e);
                return Err(Failure::new(format!("Removing image ID file: {error}")));
            }
            _ => {}
        }
    }

    let prepared = match context::prepare(&args.context, &args.file, &sink).await {
        Ok(prepared) => prepared,
        Err(error) => {
            let remote = args.context.starts_with("http://") || args.context.starts_with("https://");
            if args.quiet && remote && matches!(error, ContextError::Prepare(_)) {
                eprintln!("{}", sink.kept());
            }
            return Err(Failure::new(error.to_string()));
        }
    };
    let mut source = prepared.source;
    if args.compress {
        source = gzipped(source);
    }
    let pairs = query::pairs(&args, &prepared.dockerfile, &proxies).expect("the flags were checked above");
    let body = upload::body(source, Progress::sending(sink.clone()))?;
    let mut headers = HeaderMap::new();
    let config = super::registry::registry_config_header();
    if let Ok(value) = HeaderValue::from_str(&config) {
        headers.insert("x-registry-config", value);
    }
    let path = format!("/build{}", encode_query(&pairs)?);
    let response = client
        .request_with_headers(Method::POST, &path, Some("application/x-tar"), headers, body)
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            if args.quiet {
                eprint!("{}", sink.kept());
            }
            return Err(error.into());
        }
    };

    // docker/cli renders for stdout's kind of output even when it keeps the text (-q).
    let terminal = std::io::stdout().is_terminal();
    let mut kept_output = Vec::new();
    let shown = if args.quiet {
        display::show(response, &mut kept_output, terminal).await
    } else {
        display::show(response, &mut std::io::stdout(), terminal).await
    };
    let shown = match shown {
        Ok(shown) => shown,
        Err(StreamError::Reported { message, code }) => {
            if args.quiet {
                eprint!("{}{}", sink.kept(), String::from_utf8_lossy(&kept_output));
            }
            let status = if code == 0 { 1 } else { code.clamp(1, 255) as i32 };
            return Err(Failure { message, status });
        }
        Err(StreamError::Broken(message)) => return Err(Failure::new(message)),
    };

    // With -q the daemon's output is the id alone ("sha256:…\n"): docker/cli prints it, and
    // writes it to --iidfile as it is.
    let mut image_id = shown.image_id;
    if args.quiet {
        image_id = String::from_utf8_lossy(&kept_output).into_owned();
        print!("{image_id}");
        let _ = std::io::stdout().flush();
    }
    if !args.iidfile.is_empty() {
        if image_id.is_empty() {
            return Err(Failure::new(format!(
                "Server did not provide an image ID. Cannot write {}",
                args.iidfile
            )));
        }
        std::fs::write(&args.iidfile, &image_id)
            .map_err(|e| Failure::new(context::go_error("open", args.iidfile.as_ref(), &e)))?;
    }
    Ok(())
}

/// Whether the daemon says it runs with experimental features (`Docker-Experimental` in its
/// `/_ping` answer), which docker/cli asks before it takes an experimental flag.
async fn daemon_is_experimental(client: &Client) -> Result<bool, Failure> {
    let response = client
        .request(Method::GET, "/_ping", None, Client::empty())
        .await?;
    let experimental = response
        .headers()
        .get("docker-experimental")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"true"));
    Ok(experimental)
}

/// The context gzipped as it is written (`--compress`).
fn gzipped(plain: upload::Source) -> upload::Source {
    Box::new(move |out: &mut dyn Write| {
        let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        plain(&mut encoder).map_err(|e| std::io::Error::other(format!("failed to compress context: {e}")))?;
        encoder.finish().map(drop)
    })
}

/// `berth builder prune`.
pub async fn prune(client: &Client, args: BuilderPruneArgs) -> Outcome {
    let keep_storage = match args.keep_storage.as_deref() {
        None => 0,
        Some(text) => super::container::request::ram_in_bytes(text).ok_or_else(|| Failure {
            message: format!(
                "invalid argument \"{text}\" for \"--keep-storage\" flag: invalid size: '{text}'\n{}",
                super::container::see_help("builder prune")
            ),
            status: 125,
        })?,
    };
    let warning = if args.all {
        "WARNING! This will remove all build cache. Are you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
    };
    // Docker prints the total even when the answer is no.
    if !args.force && !super::prompt_for_confirmation(warning) {
        println!("Total reclaimed space: {}", super::prune::total(0));
        return Ok(());
    }
    let pruned = super::prune::build_cache(client, args.all, &args.filter, keep_storage).await?;
    super::prune::print_with_total(&pruned);
    Ok(())
}
