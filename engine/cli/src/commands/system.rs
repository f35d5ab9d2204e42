//! `version`, `info` and the `system` group.

/// `system df`.
mod df;
/// `system prune`.
mod prune;

use berth_api::client::Client;
use serde_json::Value;

use super::{Failure, Outcome};
use crate::cli::{InfoArgs, SystemCommand, VersionArgs};
use crate::format;

/// The CLI's own version.
pub const CLI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `docker version`: the client's facts, then the server's.
pub async fn version(client: &Client, args: VersionArgs) -> Outcome {
    let server = client.get::<Value>("/version").await;
    let client_info = serde_json::json!({
        "Platform": {"Name": "Berth"},
        "Version": CLI_VERSION,
        "ApiVersion": berth_api::client::API_VERSION,
        "DefaultAPIVersion": berth_api::client::API_VERSION,
        "GoVersion": "",
        "GitCommit": "",
        "BuiltTime": "",
        "Os": "linux",
        "Arch": std::env::consts::ARCH,
        "Context": "default",
        "Experimental": true,
    });
    if let Some(template) = &args.format {
        let value = serde_json::json!({"Client": client_info, "Server": server.as_ref().ok()});
        println!(
            "{}",
            format::render_template(template, &value).map_err(Failure::new)?
        );
        return server.map(|_| ()).map_err(Failure::from);
    }
    println!(
        "Client: {}",
        client_info["Platform"]["Name"].as_str().unwrap_or_default()
    );
    println!(" Version:           {CLI_VERSION}");
    println!(" API version:       {}", berth_api::client::API_VERSION);
    println!(" OS/Arch:           linux/{}", crate::go_arch());
    println!(" Context:           default");
    let server = server?;
    println!();
    println!(
        "Server: {}",
        server["Platform"]["Name"].as_str().unwrap_or_default()
    );
    println!(" Engine:");
    println!(
        "  Version:          {}",
        server["Version"].as_str().unwrap_or_default()
    );
    println!(
        "  API version:      {} (minimum version {})",
        server["ApiVersion"].as_str().unwrap_or_default(),
        server["MinAPIVersion"].as_str().unwrap_or_default()
    );
    println!(
        "  OS/Arch:          {}/{}",
        server["Os"].as_str().unwrap_or_default(),
        server["Arch"].as_str().unwrap_or_default()
    );
    println!(
        "  Kernel version:   {}",
        server["KernelVersion"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// `berth system …`.
pub async fn run(client: &Client, command: SystemCommand) -> Outcome {
    match command {
        SystemCommand::Df(args) => df::df(client, args).await,
        SystemCommand::Events(args) => super::container::events(client, args).await,
        SystemCommand::Info(args) => info(client, args).await,
        SystemCommand::Prune(args) => prune::prune(client, args).await,
    }
}

/// `docker info`.
pub async fn info(client: &Client, args: InfoArgs) -> Outcome {
    let info: Value = client.get("/info").await?;
    if let Some(template) = &args.format {
        println!(
            "{}",
            format::render_template(template, &info).map_err(Failure::new)?
        );
        return Ok(());
    }
    let s = |key: &str| {
        info[key]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| info[key].to_string())
    };
    println!("Client:");
    println!(" Context:    default");
    println!(" Debug Mode: false");
    println!();
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Default Runtime: {}", s("DefaultRuntime"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(
        " Total Memory: {}",
        format::human_size_binary(info["MemTotal"].as_u64().unwrap_or(0))
    );
    println!(" Name: {}", s("Name"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    Ok(())
}
