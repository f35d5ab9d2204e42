//! `--format` for list commands (`ps`, `images`, `volume ls`, `network ls`, `history`), as
//! docker/cli's formatter does it: a `table` prefix gives a header row and aligned columns,
//! anything else prints one line per row; `\t` and `\n` written in the format mean tab and newline.

use std::io::Write;

use super::template::funcs::FuncTable;
use super::template::{ExecError, ParseError, Template};
use super::value::{Method, Object, ObjectKind, Value};

/// A list command's format that failed, worded as that Docker command words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// template parsing error: {0}
    #[error("template parsing error: {0}")]
    Parse(ParseError),
    /// template parsing error: {0}
    #[error("template parsing error: {0}")]
    Exec(ExecError),
    /// failed to parse template: {0} (`docker ps` words its errors this way)
    #[error("failed to parse template: {0}")]
    PsParse(ParseError),
    /// failed to execute template: {0} (`docker ps`)
    #[error("failed to execute template: {0}")]
    PsExec(ExecError),
}

impl From<FormatError> for String {
    fn from(error: FormatError) -> String {
        error.to_string()
    }
}

/// Which list a format renders: decides header names, default formats and error wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `docker ps`, `docker container ls`.
    Containers,
    /// `docker images`, `docker image ls`.
    Images,
    /// `docker volume ls`.
    Volumes,
    /// `docker network ls`.
    Networks,
    /// `docker history`.
    History,
    /// `docker system df`: one row per kind of object.
    DiskUsage,
    /// `docker stats`.
    Stats,
}

/// How a list command was asked to print (the flags that change Docker's default format).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `-q`: ids (names for volumes) only.
    pub quiet: bool,
    /// `ps -s`: add the SIZE column.
    pub size: bool,
    /// `images --digests`: add the DIGEST column.
    pub digests: bool,
    /// `history --human=false`: absolute times and sizes in bytes.
    pub not_human: bool,
}

impl ListKind {
    /// The Go type Docker names in "can't evaluate field" errors.
    fn type_name(self) -> &'static str {
        match self {
            ListKind::Containers => "*formatter.ContainerContext",
            ListKind::Images => "*formatter.imageContext",
            ListKind::Volumes => "*formatter.volumeContext",
            ListKind::Networks => "*network.networkContext",
            ListKind::History => "*image.historyContext",
            ListKind::DiskUsage => "*formatter.diskUsageContainersContext",
            ListKind::Stats => "*container.statsContext",
        }
    }

    /// Column headers by field, as Docker 20.10 names them.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ListKind::Containers => &[
                ("ID", "CONTAINER ID"),
                ("Names", "NAMES"),
                ("Image", "IMAGE"),
                ("Command", "COMMAND"),
                ("CreatedAt", "CREATED AT"),
                ("RunningFor", "CREATED"),
                ("Ports", "PORTS"),
                ("State", "STATE"),
                ("Status", "STATUS"),
                ("Size", "SIZE"),
                ("Labels", "LABELS"),
                ("Mounts", "MOUNTS"),
                ("LocalVolumes", "LOCAL VOLUMES"),
                ("Networks", "NETWORKS"),
            ],
            ListKind::Images => &[
                ("ID", "IMAGE ID"),
                ("Repository", "REPOSITORY"),
                ("Tag", "TAG"),
                ("Digest", "DIGEST"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("Size", "SIZE"),
                ("Containers", "CONTAINERS"),
                ("VirtualSize", "SIZE"),
                ("SharedSize", "SHARED SIZE"),
                ("UniqueSize", "UNIQUE SIZE"),
            ],
            ListKind::Volumes => &[
                ("Name", "VOLUME NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("Mountpoint", "MOUNTPOINT"),
                ("Labels", "LABELS"),
                ("Links", "LINKS"),
                ("Size", "SIZE"),
            ],
            ListKind::Networks => &[
                ("ID", "NETWORK ID"),
                ("Name", "NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("IPv6", "IPV6"),
                ("Internal", "INTERNAL"),
                ("Labels", "LABELS"),
                ("CreatedAt", "CREATED AT"),
            ],
            ListKind::DiskUsage => &[
                ("Type", "TYPE"),
                ("TotalCount", "TOTAL"),
                ("Active", "ACTIVE"),
                ("Size", "SIZE"),
                ("Reclaimable", "RECLAIMABLE"),
            ],
            ListKind::Stats => &[
                ("Container", "CONTAINER"),
                ("Name", "NAME"),
                ("ID", "CONTAINER ID"),
                ("CPUPerc", "CPU %"),
                ("MemUsage", "MEM USAGE / LIMIT"),
                ("MemPerc", "MEM %"),
                ("NetIO", "NET I/O"),
                ("BlockIO", "BLOCK I/O"),
                ("PIDs", "PIDS"),
            ],
            ListKind::History => &[
                ("ID", "IMAGE"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("Size", "SIZE"),
                ("CreatedBy", "CREATED BY"),
                ("Comment", "COMMENT"),
            ],
        }
    }

    /// Whether rows have Docker's `.Label "name"` method.
    fn has_label_method(self) -> bool {
        matches!(
            self,
            ListKind::Containers | ListKind::Volumes | ListKind::Networks
        )
    }

    /// The format Docker 20.10 uses for this list: the user's `--format` (where `table` alone
    /// and `raw` mean the built-in ones), or the default table; `-q` wins over both.
    pub fn format(self, user_format: Option<&str>, options: ListOptions) -> String {
        if options.quiet {
            return if self == ListKind::Volumes {
                "{{.Name}}"
            } else {
                "{{.ID}}"
            }
            .to_string();
        }
        match user_format.unwrap_or("") {
            "" | "table" => self.default_table(options),
            "raw" if !matches!(self, ListKind::History | ListKind::Stats) => self.raw(options),
            custom => {
                let digest_missing = !custom.contains("{{.Digest}}");
                if self == ListKind::Images
                    && options.digests
                    && custom.starts_with("table")
                    && digest_missing
                {
                    // Docker adds the digest column after the repository one.
                    return custom.replacen("{{.Repository}}", "{{.Repository}}\t{{.Digest}}", 1);
                }
                custom.to_string()
            }
        }
    }

    fn default_table(self, options: ListOptions) -> String {
        match self {
            ListKind::Containers => {
                let base = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
                if options.size {
                    format!("{base}\t{{{{.Size}}}}")
                } else {
                    base.to_string()
                }
            }
            ListKind::Images if options.digests => "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t\
                {{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
                .to_string(),
            ListKind::Images => "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t\
                {{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
                .to_string(),
            ListKind::Volumes => "table {{.Driver}}\t{{.Name}}".to_string(),
            ListKind::Networks => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".to_string(),
            ListKind::DiskUsage => {
                "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".to_string()
            }
            ListKind::Stats => "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t\
                {{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
                .to_string(),
            ListKind::History if options.not_human => {
                "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string()
            }
            ListKind::History => {
                "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string()
            }
        }
    }

    fn raw(self, options: ListOptions) -> String {
        match self {
            ListKind::Containers => {
                let mut format = "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\n\
                    created_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\n\
                    names: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
                    .to_string();
                if options.size {
                    format.push_str("size: {{.Size}}\\n");
                }
                format
            }
            ListKind::Images if options.digests => "repository: {{ .Repository }}\ntag: {{.Tag}}\n\
                digest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
                .to_string(),
            ListKind::Images => "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\n\
                created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
                .to_string(),
            ListKind::Volumes => "name: {{.Name}}\ndriver: {{.Driver}}\n".to_string(),
            ListKind::Networks => {
                "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n".to_string()
            }
            ListKind::DiskUsage => {
                "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n"
                    .to_string()
            }
            ListKind::History | ListKind::Stats => "raw".to_string(),
        }
    }

    fn parse_error(self, error: ParseError) -> FormatError {
        if self == ListKind::Containers {
            FormatError::PsParse(error)
        } else {
            FormatError::Parse(error)
        }
    }

    fn exec_error(self, error: ExecError) -> FormatError {
        if self == ListKind::Containers {
            FormatError::PsExec(error)
        } else {
            FormatError::Exec(error)
        }
    }
}

/// Whether a format mentions `.{field}` (`docker ps` asks the daemon for sizes, `size=1`,
/// when the format uses `.Size`, as its template pre-processing finds out).
pub fn uses_field(format: &str, field: &str) -> bool {
    let needle = format!(".{field}");
    format.match_indices(&needle).any(|(at, _)| {
        let after = format[at + needle.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Docker's header for `.Label "com.example.some-label"`: the last dotted part, `-` and `_` as spaces.
fn label_header(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).replace(['-', '_'], " ")
}

/// Labels as Docker's `.Labels` column shows them: `k=v` pairs, sorted, comma-separated.
fn joined_labels(labels: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// Turn a row given as JSON into the object a template sees.
///
/// A `Labels` field given as a JSON object (the raw labels) becomes Docker's joined
/// `.Labels` string and feeds the `.Label "name"` method.
pub fn row_value(kind: ListKind, row: &serde_json::Value) -> Value {
    let mut object = Object::new(ObjectKind::Row(kind.type_name()));
    let mut labels = serde_json::Map::new();
    if let serde_json::Value::Object(fields) = row {
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("Labels", serde_json::Value::Object(raw)) => {
                    labels = raw.clone();
                    object.insert("Labels", joined_labels(raw));
                }
                _ => object.insert(key.clone(), Value::from(value)),
            }
        }
    }
    if kind.has_label_method() {
        object.insert(
            "Label",
            Method::new(move |args| match args {
                [Value::String(name)] => Ok(Value::from(
                    labels.get(name).and_then(|v| v.as_str()).unwrap_or_default(),
                )),
                _ => Err(format!(
                    "wrong number of args for Label: want 1 got {}",
                    args.len()
                )),
            }),
        );
    }
    Value::Object(object)
}

/// The object a table's header row is rendered on: each field's column name.
fn header_value(kind: ListKind) -> Value {
    let mut object = Object::new(ObjectKind::Row(kind.type_name()));
    for (field, header) in kind.headers() {
        object.insert(*field, *header);
    }
    if kind.has_label_method() {
        object.insert(
            "Label",
            Method::new(|args| match args {
                [Value::String(name)] => Ok(Value::String(label_header(name))),
                _ => Err(format!(
                    "wrong number of args for Label: want 1 got {}",
                    args.len()
                )),
            }),
        );
    }
    Value::Object(object)
}

/// Go's text/tabwriter as Docker configures it: minwidth 10, tabwidth 1, padding 3, spaces.
fn tabulate(text: &str) -> String {
    const GO_MINWIDTH: usize = 10;
    const PADDING: usize = 3;
    // Go counts padding inside minwidth; the tabwriter crate adds it after.
    let mut writer = tabwriter::TabWriter::new(Vec::new())
        .minwidth(GO_MINWIDTH - PADDING)
        .padding(PADDING);
    // Writing to a Vec cannot fail.
    let _ = writer.write_all(text.as_bytes());
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Render rows with a final `--format` (see [`ListKind::format`]); `table` and `raw` alone
/// also work here. Each row is a JSON object of the kind's fields (see `rows`).
pub fn render_list(format: &str, kind: ListKind, rows: &[serde_json::Value]) -> Result<String, FormatError> {
    let format = match format {
        "" | "table" | "raw" => kind.format(Some(format), ListOptions::default()),
        custom => custom.to_string(),
    };
    let is_table = format.starts_with("table");
    let body = if is_table {
        &format["table".len()..]
    } else {
        format.as_str()
    };
    let body = body.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n");
    let template = Template::parse(&body).map_err(|e| kind.parse_error(e))?;
    let mut lines = String::new();
    for row in rows {
        lines.push_str(
            &template
                .render(&row_value(kind, row))
                .map_err(|e| kind.exec_error(e))?,
        );
        lines.push('\n');
    }
    if !is_table {
        return Ok(lines);
    }
    // Docker ignores header errors and keeps what was written before them.
    let (header, _) = template.execute(&header_value(kind), &FuncTable::docker_header());
    Ok(tabulate(&format!("{header}\n{lines}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn containers() -> Vec<serde_json::Value> {
        vec![
            json!({"ID": "d41653569a91", "Names": "fmt-c3", "Image": "fmt-bb:v1",
                   "Labels": {"com.example.a": "1"}, "Status": "Exited (3) 10 minutes ago"}),
            json!({"ID": "248c31424d4b", "Names": "fmt-c1", "Image": "fmt-bb:v1",
                   "Labels": {"b": "two", "com.example.vendor": "acme", "com.example.a": "1"},
                   "Status": "Up 10 minutes"}),
        ]
    }

    #[test]
    fn label_method_and_its_header() {
        let out = render_list(
            "table {{.Names}}\\t{{.Label \"b\"}}\\t{{.Labels}}",
            ListKind::Containers,
            &containers(),
        );
        assert_eq!(
            out.unwrap(),
            "NAMES     b         LABELS\n\
             fmt-c3              com.example.a=1\n\
             fmt-c1    two       b=two,com.example.a=1,com.example.vendor=acme\n"
        );
        let header = render_list(
            "table {{.Label \"com.example.vendor\"}}\\t{{.Label \"my-label_x\"}}|",
            ListKind::Containers,
            &[],
        );
        assert_eq!(header.unwrap(), "vendor    my label x|\n");
    }

    #[test]
    fn header_functions_keep_names_but_pad_pads() {
        let out = render_list(
            "table {{pad .ID 1 1}}|{{printf \"%.4s\" .Names}}|{{json .Status}}|{{upper .Image}}",
            ListKind::Containers,
            &containers()[..1],
        );
        assert_eq!(
            out.unwrap(),
            " CONTAINER ID |NAME|STATUS|IMAGE\n d41653569a91 |fmt-|\"Exited (3) 10 minutes ago\"|FMT-BB:V1\n"
        );
    }

    #[test]
    fn errors_are_worded_per_command() {
        let err = render_list("{{.Foo}}", ListKind::Containers, &containers()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to execute template: template: :1:2: executing \"\" at <.Foo>: \
             can't evaluate field Foo in type *formatter.ContainerContext"
        );
        let err = render_list("{{.Label}}", ListKind::Containers, &containers()).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("wrong number of args for Label: want 1 got 0"),
            "{err}"
        );
        let err = render_list("{{table}}", ListKind::Images, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template parsing error: template: :1: function \"table\" not defined"
        );
        let err = render_list("{{.ID.X}}", ListKind::Containers, &containers()).unwrap_err();
        assert!(
            err.to_string().ends_with("can't evaluate field X in type string"),
            "{err}"
        );
    }

    #[test]
    fn json_of_a_row_is_sorted_and_escaped() {
        let rows = [json!({"Tag": "<none>", "ID": "abc"})];
        assert_eq!(
            render_list("{{json .}}", ListKind::Images, &rows).unwrap(),
            "{\"ID\":\"abc\",\"Tag\":\"\\u003cnone\\u003e\"}\n"
        );
    }

    #[test]
    fn formats_follow_docker_flags() {
        let digests = ListOptions {
            digests: true,
            ..Default::default()
        };
        assert_eq!(
            ListKind::Images.format(Some("table {{.Repository}}\t{{.ID}}"), digests),
            "table {{.Repository}}\t{{.Digest}}\t{{.ID}}"
        );
        assert_eq!(
            ListKind::Volumes.format(
                None,
                ListOptions {
                    quiet: true,
                    ..Default::default()
                }
            ),
            "{{.Name}}"
        );
        assert!(
            ListKind::Containers
                .format(
                    Some("table"),
                    ListOptions {
                        size: true,
                        ..Default::default()
                    }
                )
                .ends_with("\t{{.Size}}")
        );
        assert_eq!(
            ListKind::History.format(Some("raw"), ListOptions::default()),
            "raw"
        );
    }

    #[test]
    fn size_use_is_detected() {
        assert!(uses_field("table {{.ID}}\t{{.Size}}", "Size"));
        assert!(uses_field("{{if .Size}}x{{end}}", "Size"));
        assert!(!uses_field("{{.SizeRw}} {{.ID}}", "Size"));
    }

    #[test]
    fn empty_tables_still_have_a_header() {
        assert_eq!(
            render_list("table", ListKind::Volumes, &[]).unwrap(),
            "DRIVER    VOLUME NAME\n"
        );
        assert_eq!(render_list("{{.Name}}", ListKind::Volumes, &[]).unwrap(), "");
    }
}
