//! Registry credentials, kept per user the way Docker's CLI keeps them: `~/.berth/config.json`
//! (`$BERTH_CONFIG/config.json` when set), `{"auths": {"<registry>": {"auth": "<base64 user:password>"}}}`,
//! readable by its owner only (mode 0600 in a 0700 directory), written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::{Deserialize, Serialize};

/// Docker Hub's key in the file (a URL, for history's sake).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// One registry's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAuth {
    /// `base64(username:password)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// A token from the registry, kept instead of the password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
}

impl StoredAuth {
    pub fn new(username: &str, password: &str) -> StoredAuth {
        StoredAuth {
            auth: STANDARD.encode(format!("{username}:{password}")),
            identitytoken: String::new(),
        }
    }

    /// The username and password in `auth`.
    pub fn user_password(&self) -> Option<(String, String)> {
        let decoded = String::from_utf8(STANDARD.decode(&self.auth).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }
}

/// The credentials file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CredentialFile {
    #[serde(default)]
    pub auths: BTreeMap<String, StoredAuth>,
    /// Whatever else a hand-edited file holds is kept as is.
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// Where the file is: `$BERTH_CONFIG/config.json`, else `~/.berth/config.json`.
pub fn path() -> PathBuf {
    let dir = match std::env::var_os("BERTH_CONFIG") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(".berth")
        }
    };
    dir.join("config.json")
}

/// The config file's `detachKeys`: the default of `--detach-keys` for attach, run and exec, as
/// docker/cli reads it from its own config file.
pub fn configured_detach_keys() -> Option<String> {
    let file = CredentialFile::load(&path()).ok()?;
    file.other
        .get("detachKeys")?
        .as_str()
        .filter(|keys| !keys.is_empty())
        .map(str::to_owned)
}

/// The config file's `proxies` for the daemon at `host` (its own entry, else `default`), as
/// the build arguments docker/cli adds to every build: `HTTP_PROXY` and `http_proxy`, and so
/// on for HTTPS, FTP and NO_PROXY, each only when set.
pub fn configured_proxies(host: &str) -> Vec<(String, String)> {
    let Ok(file) = CredentialFile::load(&path()) else {
        return Vec::new();
    };
    let Some(proxies) = file.other.get("proxies") else {
        return Vec::new();
    };
    let config = proxies.get(host).or_else(|| proxies.get("default"));
    let Some(config) = config else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (key, name) in [
        ("httpProxy", "HTTP_PROXY"),
        ("httpsProxy", "HTTPS_PROXY"),
        ("noProxy", "NO_PROXY"),
        ("ftpProxy", "FTP_PROXY"),
    ] {
        if let Some(value) = config.get(key).and_then(|v| v.as_str()).filter(|v| !v.is_empty()) {
            found.push((name.to_owned(), value.to_owned()));
        }
    }
    found
}

impl CredentialFile {
    /// Read the file; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<CredentialFile, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("loading config file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredentialFile::default()),
            Err(e) => Err(format!("loading config file {}: {e}", path.display())),
        }
    }

    /// Write the file for its owner only: a temporary file (0600) renamed over the old one.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("saving credentials to {}: {e}", path.display());
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
        let mut json = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut serializer = serde_json::Serializer::with_formatter(&mut json, formatter);
        self.serialize(&mut serializer).map_err(|e| fail(e.into()))?;
        let temp = dir.join(format!(".config.json.{}", std::process::id()));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temp)?;
            // A file left by an older umask gets the mode too.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.map_err(fail)
    }

    /// The entry for a registry host, under any of the names Docker has filed it under.
    pub fn find(&self, host: &str) -> Option<(&String, &StoredAuth)> {
        keys_for(host)
            .into_iter()
            .find_map(|key| self.auths.get_key_value(&key))
    }
}

/// The key a registry host is filed under: Docker Hub's URL, or the host itself.
pub fn key_for(host: &str) -> String {
    if host == "docker.io" {
        DOCKER_HUB_KEY.to_owned()
    } else {
        host.to_owned()
    }
}

/// Every key that may hold a host's credentials (older Dockers wrote a scheme in front).
pub fn keys_for(host: &str) -> Vec<String> {
    let key = key_for(host);
    if key == DOCKER_HUB_KEY {
        return vec![key];
    }
    vec![key.clone(), format!("http://{key}"), format!("https://{key}")]
}

/// The registry host a login's server address names (`https://index.docker.io/v1/` → `docker.io`).
pub fn host_of(server: &str) -> String {
    let server = server.trim();
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = rest.split('/').next().unwrap_or_default().to_lowercase();
    match host.as_str() {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

/// The `X-Registry-Auth` header for a registry host: base64url JSON of the stored credentials,
/// or of `{}` for anonymous access (as Docker's CLI sends).
pub fn registry_auth_header(host: &str) -> String {
    let file = CredentialFile::load(&path()).unwrap_or_default();
    let mut config = serde_json::Map::new();
    if let Some((key, stored)) = file.find(host) {
        if let Some((user, password)) = stored.user_password() {
            config.insert("username".into(), user.into());
            config.insert("password".into(), password.into());
        }
        if !stored.identitytoken.is_empty() {
            config.insert("identitytoken".into(), stored.identitytoken.clone().into());
        }
        config.insert("serveraddress".into(), key.clone().into());
    }
    URL_SAFE.encode(serde_json::Value::Object(config).to_string())
}

/// The `X-Registry-Config` header of a build: every stored credential, keyed by registry, as
/// docker/cli's `GetAllCredentials` gives them (base64url JSON; `{}` when there are none), so
/// that the daemon can pull what `FROM` names.
pub fn registry_config_header() -> String {
    let file = CredentialFile::load(&path()).unwrap_or_default();
    let mut all = serde_json::Map::new();
    for (key, stored) in &file.auths {
        let mut config = serde_json::Map::new();
        if let Some((user, password)) = stored.user_password() {
            config.insert("username".into(), user.into());
            config.insert("password".into(), password.into());
        }
        config.insert("serveraddress".into(), key.clone().into());
        if !stored.identitytoken.is_empty() {
            config.insert("identitytoken".into(), stored.identitytoken.clone().into());
        }
        all.insert(key.clone(), config.into());
    }
    URL_SAFE.encode(serde_json::Value::Object(all).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_for_the_owner_only_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        let mut file = CredentialFile::default();
        file.auths
            .insert("127.0.0.1:5000".into(), StoredAuth::new("u", "p:w"));
        file.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5000\": {\n\t\t\t\"auth\": \"dTpwOnc=\"\n\t\t}\n\t}\n}"
        );
        let loaded = CredentialFile::load(&path).unwrap();
        let (key, stored) = loaded.find("127.0.0.1:5000").unwrap();
        assert_eq!(key, "127.0.0.1:5000");
        assert_eq!(stored.user_password(), Some(("u".into(), "p:w".into())));
        assert!(loaded.find("127.0.0.1:5001").is_none());
    }

    #[test]
    fn hosts_and_keys() {
        assert_eq!(host_of("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(host_of(""), "docker.io");
        assert_eq!(host_of("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(key_for("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(keys_for("r:1")[1], "http://r:1");
    }
}
