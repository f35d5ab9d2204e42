//! Registry commands: `pull`, `push`, `login`, `logout`, and the pull `run`/`create` make of a
//! missing image ([`pull_for_run`]).
//!
//! The daemon does the registry work; the CLI keeps the credentials (see `credentials`) and
//! sends those of the image's registry with each pull and push (`X-Registry-Auth`).

mod credentials;

pub use credentials::{configured_detach_keys, configured_proxies, registry_config_header};
mod progress;

use std::io::{IsTerminal, Read, Write};

use berth_api::client::{Client, query};
use http::Method;
use http::header::{HeaderMap, HeaderValue};
use serde::Serialize;

pub use progress::Output;

use super::{Failure, Outcome};
use crate::cli::{LoginArgs, LogoutArgs, PullArgs, PushArgs};
use credentials::{CredentialFile, DOCKER_HUB_KEY, StoredAuth};

/// An image reference as the Docker CLI splits it before asking the daemon. Validation is the
/// daemon's: it answers bad names with Docker's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    fn parse(input: &str) -> ImageRef {
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_owned())),
            None => (input, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_owned())),
            None => (rest, None),
        };
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let domain = if domain == "index.docker.io" {
            "docker.io".to_owned()
        } else {
            domain
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        ImageRef {
            domain,
            path,
            tag,
            digest,
        }
    }

    /// `busybox`, `example/app`, `127.0.0.1:5000/x`.
    fn familiar_name(&self) -> String {
        match (self.domain.as_str(), self.path.strip_prefix("library/")) {
            ("docker.io", Some(official)) if !official.contains('/') => official.to_owned(),
            ("docker.io", _) => self.path.clone(),
            _ => format!("{}/{}", self.domain, self.path),
        }
    }

    /// The tag or digest the API's `tag` parameter carries (a digest wins).
    fn api_tag(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_default()
    }

    /// `docker.io/library/busybox:latest`, as `pull` prints it at the end.
    fn full_string(&self) -> String {
        let mut s = format!("{}/{}", self.domain, self.path);
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }
}

/// `X-Registry-Auth` for the image's registry.
fn auth_headers(domain: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&credentials::registry_auth_header(domain)) {
        headers.insert("x-registry-auth", value);
    }
    headers
}

/// Ask the daemon to pull and show its progress.
async fn request_pull(
    client: &Client,
    from_image: &str,
    tag: &str,
    platform: Option<&str>,
    domain: &str,
    output: Output,
) -> Outcome {
    #[derive(Serialize)]
    struct Query<'a> {
        #[serde(rename = "fromImage")]
        from_image: &'a str,
        tag: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<&'a str>,
    }
    let path = format!(
        "/images/create{}",
        query(&Query {
            from_image,
            tag,
            platform
        })?
    );
    let response = client
        .request_with_headers(Method::POST, &path, None, auth_headers(domain), Client::empty())
        .await?;
    progress::show(response, output).await?;
    Ok(())
}

/// `docker pull NAME[:TAG|@DIGEST]`.
pub async fn pull(client: &Client, args: PullArgs) -> Outcome {
    let mut image = ImageRef::parse(&args.name);
    if args.all_tags && (image.tag.is_some() || image.digest.is_some()) {
        return Err(Failure::new("tag can't be used with --all-tags/-a"));
    }
    if !args.all_tags && image.tag.is_none() && image.digest.is_none() {
        image.tag = Some("latest".into());
        if !args.quiet {
            println!("Using default tag: latest");
        }
    }
    let output = if args.quiet { Output::Quiet } else { Output::Stdout };
    request_pull(
        client,
        &image.familiar_name(),
        &image.api_tag(),
        args.platform.as_deref(),
        &image.domain,
        output,
    )
    .await?;
    println!("{}", image.full_string());
    Ok(())
}

/// The pull `run` and `create` make when the image is missing (after printing
/// `Unable to find image 'x:latest' locally`): `from_image` and `tag` as the API takes them,
/// progress on stderr (bars on a terminal), the registry's credentials sent along.
pub async fn pull_for_run(client: &Client, from_image: &str, tag: &str, platform: Option<&str>) -> Outcome {
    let domain = ImageRef::parse(from_image).domain;
    request_pull(client, from_image, tag, platform, &domain, Output::Stderr).await
}

/// `docker push NAME[:TAG]`.
pub async fn push(client: &Client, args: PushArgs) -> Outcome {
    let mut image = ImageRef::parse(&args.name);
    if args.all_tags && image.tag.is_some() {
        return Err(Failure::new("tag can't be used with --all-tags/-a"));
    }
    if !args.all_tags && image.tag.is_none() {
        image.tag = Some("latest".into());
        if !args.quiet {
            println!("Using default tag: latest");
        }
    }
    #[derive(Serialize)]
    struct Query<'a> {
        tag: &'a str,
    }
    let tag = image.tag.clone().unwrap_or_default();
    let path = format!(
        "/images/{}/push{}",
        image.familiar_name(),
        query(&Query { tag: &tag })?
    );
    let response = client
        .request_with_headers(
            Method::POST,
            &path,
            None,
            auth_headers(&image.domain),
            Client::empty(),
        )
        .await?;
    if args.quiet {
        progress::show(response, Output::Quiet).await?;
        println!("{}", image.full_string());
    } else {
        progress::show(response, Output::Stdout).await?;
    }
    Ok(())
}

/// Ask the daemon whether the registry takes these credentials (`POST /auth`).
async fn authenticate(client: &Client, username: &str, password: &str, server: &str) -> Result<(), Failure> {
    #[derive(Serialize)]
    struct AuthRequest<'a> {
        username: &'a str,
        password: &'a str,
        serveraddress: &'a str,
    }
    let _: serde_json::Value = client
        .send_json(
            Method::POST,
            "/auth",
            &AuthRequest {
                username,
                password,
                serveraddress: server,
            },
        )
        .await?;
    Ok(())
}

/// `docker login [SERVER]`: check the credentials through the daemon, then keep them in the
/// credentials file (owner-only).
pub async fn login(client: &Client, args: LoginArgs) -> Outcome {
    if args.password.is_some() && args.password_stdin {
        return Err(Failure::new(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    let mut password = args.password.clone();
    if args.password_stdin {
        if args.username.is_none() {
            return Err(Failure::new("Must provide --username with --password-stdin"));
        }
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        password = Some(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let host = credentials::host_of(args.server.as_deref().unwrap_or(DOCKER_HUB_KEY));
    let key = credentials::key_for(&host);
    let path = credentials::path();
    let mut file = CredentialFile::load(&path).map_err(Failure::new)?;

    if args.username.is_none() && password.is_none() {
        if let Some((_, stored)) = file.find(&host) {
            if let Some((user, stored_password)) = stored.user_password() {
                println!("Authenticating with existing credentials...");
                match authenticate(client, &user, &stored_password, &key).await {
                    Ok(()) => {
                        println!("Login Succeeded");
                        return Ok(());
                    }
                    Err(failure) => eprintln!("Login did not succeed, error: {failure}"),
                }
            }
        }
    }
    let interactive = args.username.is_none() || password.is_none();
    if interactive && !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            "Error: Cannot perform an interactive login from a non TTY device",
        ));
    }
    let username = match args.username.clone() {
        Some(username) => username,
        None => prompt("Username: ")?,
    };
    if username.trim().is_empty() {
        return Err(Failure::new("Error: Non-null Username Required"));
    }
    let password = match password {
        Some(password) => password,
        None => rpassword::prompt_password("Password: ")?,
    };
    if password.is_empty() {
        return Err(Failure::new("Error: Password Required"));
    }
    authenticate(client, &username, &password, &key).await?;
    file.auths.insert(key, StoredAuth::new(&username, &password));
    file.save(&path).map_err(Failure::new)?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        path.display()
    );
    println!("Login Succeeded");
    Ok(())
}

fn prompt(question: &str) -> Result<String, Failure> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().to_owned())
}

/// `docker logout [SERVER]`: forget a registry's credentials.
pub fn logout(args: LogoutArgs) -> Outcome {
    let (shown, keys) = match &args.server {
        None => (DOCKER_HUB_KEY.to_owned(), vec![DOCKER_HUB_KEY.to_owned()]),
        Some(server) => {
            let trimmed = server
                .strip_prefix("https://")
                .or_else(|| server.strip_prefix("http://"))
                .unwrap_or(server);
            let hostname = trimmed.split('/').next().unwrap_or_default().to_owned();
            let mut keys = vec![server.clone()];
            keys.extend(credentials::keys_for(&credentials::host_of(server)));
            keys.extend([
                hostname.clone(),
                format!("http://{hostname}"),
                format!("https://{hostname}"),
            ]);
            (hostname, keys)
        }
    };
    let path = credentials::path();
    let mut file = CredentialFile::load(&path).map_err(Failure::new)?;
    let found: Vec<String> = keys.into_iter().filter(|k| file.auths.contains_key(k)).collect();
    if found.is_empty() {
        println!("Not logged in to {shown}");
        return Ok(());
    }
    println!("Removing login credentials for {shown}");
    for key in found {
        file.auths.remove(&key);
    }
    file.save(&path).map_err(Failure::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_as_the_docker_cli_splits_them() {
        let r = ImageRef::parse("busybox");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.full_string(), "docker.io/library/busybox");
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v1");
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.familiar_name(), "127.0.0.1:5000/team/app");
        assert_eq!(r.api_tag(), "v1");
        let r = ImageRef::parse("localhost:5000/x");
        assert_eq!((r.domain.as_str(), r.tag.as_deref()), ("localhost:5000", None));
        let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = ImageRef::parse(&format!("example/app:v2@{digest}"));
        assert_eq!(r.familiar_name(), "example/app");
        assert_eq!(r.api_tag(), digest);
        assert_eq!(r.full_string(), format!("docker.io/example/app:v2@{digest}"));
        assert_eq!(
            ImageRef::parse("index.docker.io/busybox:1").familiar_name(),
            "busybox"
        );
    }
}
