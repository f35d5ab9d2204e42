//! The lab images: stand-ins for the Docker Hub images the guide uses.
//!
//! Each function reads like the Dockerfile it imitates. `busybox:latest` is one layer, a root
//! like the real busybox image's; every other image is `FROM busybox` plus one small layer of
//! its own files, so the busybox layer is stored (and loaded) once. The scripts and pages live
//! in `files/`, next to this module, where they can be read as they are.

use std::rc::Rc;

use super::busybox::Busybox;
use super::config::{DEFAULT_PATH, Image, ImageBuilder, STAND_IN_LABEL};
use super::layer::LayerTree;

/// What every image is built from, and when it says it was built.
pub struct Inputs<'a> {
    pub busybox: &'a Busybox,
    /// Seconds since the epoch, stamped on every file.
    pub mtime: u64,
    /// The same moment as RFC 3339, for `created` in configs and history.
    pub created: String,
}

const BASE_PASSWD: &str = include_str!("files/busybox/passwd");
const BASE_GROUP: &str = include_str!("files/busybox/group");

/// All lab images, in the order they are written to the archive.
pub fn all(inputs: &Inputs) -> anyhow::Result<Vec<Image>> {
    let busybox = busybox(inputs)?;
    let hello_world = hello_world(inputs, &busybox)?;
    let httpd = httpd(inputs, &busybox)?;
    let nginx = nginx(inputs, &busybox)?;
    let postgres = postgres(inputs, &busybox)?;
    Ok(vec![busybox, hello_world, httpd, nginx, postgres])
}

/// `busybox:latest`: every applet a hard link to /bin/busybox, users root to nobody, the usual
/// top-level directories.
fn busybox(inputs: &Inputs) -> anyhow::Result<Image> {
    let busybox = inputs.busybox;
    let mut root = LayerTree::new();
    let applet_paths = busybox.applets.iter().map(|name| format!("bin/{name}"));
    root.hard_linked_file(applet_paths, 0o755, busybox.binary.clone())
        .dir("dev", 0o755)
        .dir("etc", 0o755)
        .file("etc/passwd", 0o644, BASE_PASSWD)
        .file("etc/group", 0o644, BASE_GROUP)
        .file("etc/shadow", 0o600, include_str!("files/busybox/shadow"))
        .dir("home", 0o755)
        .dir("proc", 0o755)
        .dir("root", 0o700)
        .dir("sys", 0o755)
        .dir("tmp", 0o1777)
        .dir("usr/sbin", 0o755)
        .dir("var/spool/mail", 0o755)
        .dir("var/www", 0o755);

    let mut image = ImageBuilder::scratch(&inputs.created);
    image
        .add_layer(
            &format!(
                "ADD busybox-static {} rootfs / # berth cargo xtask images",
                busybox.version
            ),
            Rc::new(root.build(inputs.mtime)?),
        )
        .label(
            STAND_IN_LABEL,
            &format!(
                "docker.io/library/busybox:latest — Debian busybox-static {}",
                busybox.version
            ),
        )
        .cmd(&["sh"]);
    Ok(image.build("busybox", "latest"))
}

/// `hello-world:latest`: `/hello` prints Docker's greeting, adapted.
fn hello_world(inputs: &Inputs, busybox: &Image) -> anyhow::Result<Image> {
    let mut files = LayerTree::new();
    files.file("hello", 0o755, include_str!("files/hello-world/hello"));

    let mut image = ImageBuilder::from(busybox);
    image
        .add_layer(
            "COPY hello / # berth cargo xtask images",
            Rc::new(files.build(inputs.mtime)?),
        )
        .label(
            STAND_IN_LABEL,
            "docker.io/library/hello-world:latest — a busybox sh script printing Docker's greeting",
        )
        .cmd(&["/hello"]);
    Ok(image.build("hello-world", "latest"))
}

/// `httpd:2.4`: busybox httpd serving htdocs on port 80, with a `bash` for `docker exec -it … bash`.
fn httpd(inputs: &Inputs, busybox: &Image) -> anyhow::Result<Image> {
    const PREFIX: &str = "/usr/local/apache2";
    let mut files = LayerTree::new();
    files
        .file("bin/bash", 0o755, include_str!("files/httpd/bash"))
        .file(
            "usr/local/apache2/htdocs/index.html",
            0o644,
            include_str!("files/httpd/index.html"),
        )
        .dir("usr/local/apache2/logs", 0o755)
        .file(
            "usr/local/bin/httpd-foreground",
            0o755,
            include_str!("files/httpd/httpd-foreground"),
        );

    let mut image = ImageBuilder::from(busybox);
    image
        .env("HTTPD_PREFIX", PREFIX)
        .env("PATH", &format!("{PREFIX}/bin:{DEFAULT_PATH}"))
        .env("HTTPD_VERSION", "2.4")
        .add_layer(
            "COPY bash htdocs/index.html httpd-foreground / # berth cargo xtask images",
            Rc::new(files.build(inputs.mtime)?),
        )
        .workdir(PREFIX)
        .label(STAND_IN_LABEL, "docker.io/library/httpd:2.4 — busybox httpd")
        .expose("80/tcp")
        .cmd(&["httpd-foreground"]);
    Ok(image.build("httpd", "2.4"))
}

/// `nginx:latest`: busybox httpd serving /usr/share/nginx/html on port 80, stopped by SIGQUIT.
fn nginx(inputs: &Inputs, busybox: &Image) -> anyhow::Result<Image> {
    let mut files = LayerTree::new();
    files
        .file(
            "docker-entrypoint.sh",
            0o755,
            include_str!("files/nginx/docker-entrypoint.sh"),
        )
        .file("usr/sbin/nginx", 0o755, include_str!("files/nginx/nginx"))
        .file(
            "usr/share/nginx/html/index.html",
            0o644,
            include_str!("files/nginx/index.html"),
        );

    let mut image = ImageBuilder::from(busybox);
    image
        .label(STAND_IN_LABEL, "docker.io/library/nginx:latest — busybox httpd")
        .add_layer(
            "COPY docker-entrypoint.sh nginx index.html / # berth cargo xtask images",
            Rc::new(files.build(inputs.mtime)?),
        )
        .entrypoint(&["/docker-entrypoint.sh"])
        .expose("80/tcp")
        .stop_signal("SIGQUIT")
        .cmd(&["nginx", "-g", "daemon off;"]);
    Ok(image.build("nginx", "latest"))
}

/// `postgres:12.1`: an entrypoint that initialises the data volume once, then a foreground
/// stand-in server that logs "database system is ready to accept connections".
fn postgres(inputs: &Inputs, busybox: &Image) -> anyhow::Result<Image> {
    const PGDATA: &str = "/var/lib/postgresql/data";
    let mut files = LayerTree::new();
    files
        .file(
            "etc/passwd",
            0o644,
            format!("{BASE_PASSWD}postgres:x:999:999::/var/lib/postgresql:/bin/sh\n"),
        )
        .file("etc/group", 0o644, format!("{BASE_GROUP}postgres:x:999:\n"))
        .file(
            "usr/lib/postgresql/12/bin/postgres",
            0o755,
            include_str!("files/postgres/postgres"),
        )
        .file(
            "usr/local/bin/docker-entrypoint.sh",
            0o755,
            include_str!("files/postgres/docker-entrypoint.sh"),
        )
        .dir("var/lib/postgresql/data", 0o777);

    let mut image = ImageBuilder::from(busybox);
    image
        .label(
            STAND_IN_LABEL,
            "docker.io/library/postgres:12.1 — busybox sh scripts, no SQL server",
        )
        .add_layer(
            "COPY passwd group postgres docker-entrypoint.sh / # berth cargo xtask images",
            Rc::new(files.build(inputs.mtime)?),
        )
        .env("PG_MAJOR", "12")
        .env("PATH", &format!("{DEFAULT_PATH}:/usr/lib/postgresql/12/bin"))
        .env("PG_VERSION", "12.1")
        .env("PGDATA", PGDATA)
        .volume(PGDATA)
        .entrypoint(&["docker-entrypoint.sh"])
        .expose("5432/tcp")
        .cmd(&["postgres"]);
    Ok(image.build("postgres", "12.1"))
}
