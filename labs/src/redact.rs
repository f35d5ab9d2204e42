//! The sample runs' placeholders: what `lab check`'s transcripts (the book's sample runs) and
//! lab's snapshot tests show in place of what changes from run to run — ids, times, addresses,
//! host ports the engine picked, the private daemon's directory — with the run's unique names
//! and ports back to the guide's and its captures as `${name}`.
//!
//! A table (`docker ps`, `docker images`…) is cut into its cells *before* anything in it is
//! replaced, then laid out again as Docker's tabwriter lays tables out: a placeholder is not as
//! wide as what it stands for, and the columns must still line up as on a terminal.
//!
//! The book's legend of the placeholders is [`legend`], made from the same rules the
//! redaction applies, so it cannot drift from what the sample runs show.

use std::io::Write as _;
use std::path::Path;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::scenario::Scenario;
use crate::scenario::vars::{BUILTINS, Vars};

/// A placeholder, and what it stands for, in words for the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    /// As the sample runs show it: `[ID12]`.
    pub shown: &'static str,
    /// What it stands for (Markdown).
    pub means: &'static str,
}

const ROOT: Placeholder = Placeholder {
    shown: "[ROOT]",
    means: "the directory of the private berthd the run used (its data and exec roots)",
};
const RUN: Placeholder = Placeholder {
    shown: "[RUN]",
    means: "the run's id: `lab check` adds it to names and labels so that runs never collide; \
            the sample runs show the guide's names instead",
};
const CAPTURE: Placeholder = Placeholder {
    shown: "${name}",
    means: "a value lab read from the engine during the run (a volume's generated name, an \
            address), as the step that reads it names it; in `lab run`'s shell it is a variable",
};
const ID: Placeholder = Placeholder {
    shown: "[ID]",
    means: "a 64-digit id: a container's, or an image's or layer's digest (after `sha256:`)",
};
const ID12: Placeholder = Placeholder {
    shown: "[ID12]",
    means: "a short id, the first 12 digits of an id, as `docker ps` and `docker images` show it",
};
const TIME: Placeholder = Placeholder {
    shown: "[TIME]",
    means: "a time the engine recorded (`2026-12-07T22:59:21Z`), or how long a container has been \
            up (`Up 3 seconds`)",
};
const AGO: Placeholder = Placeholder {
    shown: "[AGO]",
    means: "how long ago something was created or exited (`3 seconds ago`)",
};
const DATE: Placeholder = Placeholder {
    shown: "[DATE]",
    means: "the date and time a command ran: a file's time in `ls -l`, a backup's name",
};
const PORT: Placeholder = Placeholder {
    shown: "[PORT]",
    means: "a host port the engine picked (`-P`): yours will differ",
};
const IP: Placeholder = Placeholder {
    shown: "[IP]",
    means: "an IP address the engine gave a container or a network (`0.0.0.0`, every address, stays)",
};
const NAME: Placeholder = Placeholder {
    shown: "[NAME]",
    means: "a name the engine made up for a container started without `--name` (`hungry_stonebraker`)",
};

/// A replacement the redaction makes wherever its pattern matches (`$1` keeps a group).
struct Rule {
    pattern: &'static str,
    replacement: &'static str,
    placeholder: Placeholder,
}

/// In order: a longer id before its 12-digit prefix, a time before the numbers in it.
const RULES: &[Rule] = &[
    Rule {
        pattern: r"sha256:[0-9a-f]{64}",
        replacement: "sha256:[ID]",
        placeholder: ID,
    },
    Rule {
        pattern: r"\b[0-9a-f]{64}\b",
        replacement: "[ID]",
        placeholder: ID,
    },
    Rule {
        pattern: r"\b[0-9a-f]{12}\b",
        replacement: "[ID12]",
        placeholder: ID12,
    },
    Rule {
        pattern: r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
        replacement: "[TIME]",
        placeholder: TIME,
    },
    Rule {
        pattern: r"(Less than a second|About a minute|About an hour|An? \w+|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?)) ago",
        replacement: "[AGO]",
        placeholder: AGO,
    },
    Rule {
        pattern: r"Up (Less than a second|About a minute|\d+ seconds?)",
        replacement: "Up [TIME]",
        placeholder: TIME,
    },
    Rule {
        pattern: r"website_\d{4}-\d\d-\d\d-\d{4}\.tgz",
        replacement: "website_[DATE].tgz",
        placeholder: DATE,
    },
    // `ls -l`: the listing stays, its files' times go (`Dec  7 22:59`, `Dec  7  2025`).
    Rule {
        pattern: r"(?m)^([-dlcbps][-rwxsStT]{9}\S* +\d+ +\S+ +\S+ +\d+) +[A-Z][a-z]{2} +\d+ +[\d:]+ ",
        replacement: "$1 [DATE] ",
        placeholder: DATE,
    },
    Rule {
        pattern: r#""Name": "/[a-z]+_[a-z]+\d*""#,
        replacement: r#""Name": "/[NAME]""#,
        placeholder: NAME,
    },
    // What `lab reset` removed.
    Rule {
        pattern: r"(?m)container [a-z]+_[a-z]+\d*$",
        replacement: "container [NAME]",
        placeholder: NAME,
    },
];

/// A host port published on every address; the port is redacted unless it is one the guide
/// chose (kept by [`Redactor::redact`]).
static PUBLISHED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(0\.0\.0\.0|::):(\d{4,5})\b").expect("a valid pattern"));
static ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("a valid pattern"));
/// A name the engine made up (`hungry_stonebraker`), as a whole table cell.
static MADE_UP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]+_[a-z]+\d*$").expect("a valid pattern"));
static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|r| Regex::new(r.pattern).expect("a valid pattern"))
        .collect()
});
static TRAILING_SPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)[ \t]+$").expect("a valid pattern"));

/// Every placeholder a sample run may show, once each, in the order a reader meets them.
pub fn legend() -> Vec<Placeholder> {
    let mut legend = vec![CAPTURE, RUN, ROOT];
    let others = RULES.iter().map(|r| r.placeholder).chain([PORT, IP, NAME]);
    for placeholder in others {
        if !legend.contains(&placeholder) {
            legend.push(placeholder);
        }
    }
    legend
}

/// What to replace in a run's output, beyond the fixed rules.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    root: Option<String>,
    /// Whole words: a run's value → what to show (the guide's name, `${capture}`, `[RUN]`);
    /// longest first, so a name is never replaced inside a longer one.
    words: Vec<(String, String)>,
    /// The run's label → the guide's, in the commands typed (`$ …` lines) only: the engine's
    /// output (a build's `LABEL` steps, `docker inspect`) shows the labels it really has.
    label: Option<(String, String)>,
    /// Host ports the guide chose: shown, where the engine's own picks are `[PORT]`.
    guide_ports: Vec<String>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The private daemon's directory, shown as `[ROOT]`.
    pub fn root(mut self, root: &Path) -> Redactor {
        self.root = Some(root.display().to_string());
        self
    }

    /// A run of `scenario` with these variables: its unique names and ports back to the
    /// guide's (`httpd-3f9a1c` → `httpd`, a free port → 8080), its label to the guide's
    /// (`berth.lab.run=3f9a1c` → `berth.lab=volumes`, as the step's command has it), its
    /// captures to their variables (`${exposed_ip}`) and its id to `[RUN]`.
    pub fn run(mut self, scenario: &Scenario, vars: &Vars) -> Redactor {
        let guide = scenario.vars(&scenario.id, false, || 0);
        if let (Some(label), Some(guide_label)) = (vars.get("lab_label"), guide.get("lab_label")) {
            self.label = Some((label.to_owned(), guide_label.to_owned()));
        }
        for (var, value) in vars.iter() {
            let shown = if var == "run" {
                RUN.shown.to_owned()
            } else if BUILTINS.contains(&var) {
                // `lab` is the guide's already; `lab_label` goes by `label`.
                continue;
            } else if scenario.names.contains_key(var) || scenario.ports.contains_key(var) {
                match guide.get(var) {
                    Some(shown) => shown.to_owned(),
                    None => continue,
                }
            } else {
                format!("${{{var}}}")
            };
            if value != shown {
                self.words.push((value.to_owned(), shown));
            }
        }
        self.words.retain(|(value, _)| !value.is_empty());
        self.words
            .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        self.guide_ports = scenario.ports.values().map(u16::to_string).collect();
        self
    }

    /// `text` made stable: each table laid out again after its cells are redacted, the rest
    /// redacted line by line, trailing spaces dropped.
    pub fn redact(&self, text: &str) -> String {
        let lines: Vec<&str> = text.split('\n').collect();
        let mut blocks: Vec<String> = Vec::new();
        let mut plain: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let Some(columns) = header_columns(lines[i]) else {
                plain.push(lines[i]);
                i += 1;
                continue;
            };
            let end = (i + 1..lines.len())
                .find(|&j| !is_row(lines[j], &columns))
                .unwrap_or(lines.len());
            if !plain.is_empty() {
                blocks.push(self.redact_text(&plain.join("\n")));
                plain.clear();
            }
            let rows: Vec<Vec<String>> = lines[i..end]
                .iter()
                .map(|line| {
                    cells(line, &columns)
                        .iter()
                        .map(|c| self.redact_cell(c))
                        .collect()
                })
                .collect();
            blocks.push(tabulate(&rows));
            i = end;
        }
        if !plain.is_empty() {
            blocks.push(self.redact_text(&plain.join("\n")));
        }
        TRAILING_SPACE.replace_all(&blocks.join("\n"), "").into_owned()
    }

    fn redact_text(&self, text: &str) -> String {
        let mut text = match &self.root {
            Some(root) => text.replace(root.as_str(), ROOT.shown),
            None => text.to_owned(),
        };
        if let Some((label, guide_label)) = &self.label {
            text = text
                .split('\n')
                .map(|line| match line.strip_prefix("$ ") {
                    Some(command) => format!("$ {}", command.replace(label.as_str(), guide_label)),
                    None => line.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        for (from, to) in &self.words {
            // Whole words only: a captured short id must not match inside a long one.
            let word = Regex::new(&format!(r"\b{}\b", regex::escape(from))).expect("a valid pattern");
            text = word.replace_all(&text, regex::NoExpand(to)).into_owned();
        }
        for (rule, pattern) in RULES.iter().zip(COMPILED.iter()) {
            text = pattern.replace_all(&text, rule.replacement).into_owned();
        }
        let text = PUBLISHED.replace_all(&text, |c: &Captures| {
            if self.guide_ports.iter().any(|p| *p == c[2]) {
                c[0].to_owned()
            } else {
                format!("{}:{}", &c[1], PORT.shown)
            }
        });
        ADDRESS
            .replace_all(&text, |c: &Captures| {
                if &c[0] == "0.0.0.0" {
                    c[0].to_owned()
                } else {
                    IP.shown.to_owned()
                }
            })
            .into_owned()
    }

    fn redact_cell(&self, cell: &str) -> String {
        let cell = self.redact_text(cell);
        if MADE_UP_NAME.is_match(&cell) {
            NAME.shown.to_owned()
        } else {
            cell
        }
    }
}

/// Where each column of a table starts (in characters), when `line` is a table's header:
/// upper-case words (`CONTAINER ID`), at least two columns, Docker's padding (3 spaces or more)
/// between them.
fn header_columns(line: &str) -> Option<Vec<usize>> {
    static HEADER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Z]+(?: [A-Z]+)*(?: {3,}[A-Z]+(?: [A-Z]+)*)+$").expect("a valid pattern")
    });
    if !HEADER.is_match(line) {
        return None;
    }
    let mut columns = vec![0];
    let mut spaces = 0;
    for (i, c) in line.chars().enumerate() {
        if c == ' ' {
            spaces += 1;
        } else {
            if spaces >= 2 {
                columns.push(i);
            }
            spaces = 0;
        }
    }
    Some(columns)
}

/// Whether `line` is a row of the table whose columns start at `columns`: it starts at the
/// first column with a value, reaches the last column (Docker's last column is never empty),
/// and has a space before each column's start. (Characters stand for terminal columns: the
/// engines' tables hold no wide characters.)
fn is_row(line: &str, columns: &[usize]) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let last = columns.last().copied().unwrap_or(0);
    let Some(first) = chars.first() else {
        return false;
    };
    chars.len() > last
        && !first.is_whitespace()
        // Not a command line, a check or a prompt after the table.
        && !matches!(first, '$' | '✓' | '✗' | '[')
        && columns.iter().skip(1).all(|&c| chars[c - 1] == ' ')
}

/// A row cut at the columns' starts, each cell without its padding.
fn cells(line: &str, columns: &[usize]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    columns
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = columns
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            let cell: String = chars[start.min(end)..end].iter().collect();
            cell.trim_end().to_owned()
        })
        .collect()
}

/// Rows laid out as Docker lays out its tables: Go's text/tabwriter with minwidth 10, padding 3
/// (the same settings as berth's CLI).
fn tabulate(rows: &[Vec<String>]) -> String {
    const GO_MINWIDTH: usize = 10;
    const PADDING: usize = 3;
    // Go counts the padding inside minwidth; the tabwriter crate adds it after.
    let mut writer = tabwriter::TabWriter::new(Vec::new())
        .minwidth(GO_MINWIDTH - PADDING)
        .padding(PADDING);
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writeln!(writer, "{}", row.join("\t"));
    }
    let bytes = writer.into_inner().unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "\
CONTAINER ID   IMAGE         COMMAND                  CREATED          STATUS                      PORTS                                     NAMES
0123456789ab   httpd:2.4     \"httpd-foreground\"       3 seconds ago    Up 2 seconds                0.0.0.0:41234->80/tcp, :::41234->80/tcp   httpd-3f9a1c
fedcba987654   hello-world   \"/hello\"                 12 minutes ago   Exited (0) 12 minutes ago                                             hungry_stonebraker";

    fn scenario() -> Scenario {
        crate::scenario::load::parse(
            Path::new("demo.toml"),
            r#"id = "demo"
title = "Demo"
summary = "A demo."
minutes = 5
[names]
httpd = "httpd"
[ports]
web_port = 8080
[[steps]]
title = "Run"
text = "Run it."
done_when = "`httpd` runs."
commands = ["docker run -d --name ${httpd} -p ${web_port}:80 httpd:2.4"]
checks = [{ container = "${httpd}", state = "running" }]
captures = [{ var = "httpd_ip", container = "${httpd}", ip = "bridge" }]
"#,
        )
        .expect("the demo loads")
    }

    fn run_vars() -> Vars {
        let scenario = scenario();
        let mut vars = scenario.vars("3f9a1c", true, || 41234);
        vars.set("httpd_ip", "10.100.0.2");
        vars
    }

    #[test]
    fn a_table_keeps_its_columns_lined_up() {
        let redacted = Redactor::new().run(&scenario(), &run_vars()).redact(PS);
        assert_eq!(
            redacted,
            "\
CONTAINER ID   IMAGE         COMMAND              CREATED   STATUS             PORTS                                   NAMES
[ID12]         httpd:2.4     \"httpd-foreground\"   [AGO]     Up [TIME]          0.0.0.0:8080->80/tcp, :::8080->80/tcp   httpd
[ID12]         hello-world   \"/hello\"             [AGO]     Exited (0) [AGO]                                           [NAME]"
        );
    }

    #[test]
    fn a_table_without_anything_to_redact_comes_out_as_it_went_in() {
        let table = "\
DRIVER    VOLUME NAME
local     website
local     scratch";
        assert_eq!(Redactor::new().redact(table), table);
        // An id shorter as a placeholder: its column narrows to fit, the others stay.
        let networks = "\
NETWORK ID     NAME      DRIVER    SCOPE
0123456789ab   bridge    bridge    local
fedcba987654   shopnet   bridge    local";
        assert_eq!(
            Redactor::new().redact(networks),
            "\
NETWORK ID   NAME      DRIVER    SCOPE
[ID12]       bridge    bridge    local
[ID12]       shopnet   bridge    local"
        );
    }

    #[test]
    fn the_table_ends_where_its_rows_do() {
        let text = "$ docker volume ls\nDRIVER    VOLUME NAME\nlocal     website\n$ docker ps\n✓ volume `website` exists\n";
        assert_eq!(Redactor::new().redact(text), text);
        // A prompt after a table is not a row of it.
        let text = "DRIVER    VOLUME NAME\nlocal     website\n[volumes 3/12] work $ ls";
        assert_eq!(Redactor::new().redact(text), text);
    }

    #[test]
    fn a_listing_keeps_all_but_its_times() {
        let ls = "total 8\n-rw-r--r--    1 root     root           612 Dec  7 22:59 index.html\n\
                  drwxr-xr-x    2 root     root            60 Dec 17 22:59 css\n";
        assert_eq!(
            Redactor::new().redact(ls),
            "total 8\n-rw-r--r--    1 root     root           612 [DATE] index.html\n\
             drwxr-xr-x    2 root     root            60 [DATE] css\n"
        );
    }

    #[test]
    fn a_run_reads_as_the_guide() {
        let redactor = Redactor::new()
            .root(Path::new("/tmp/berth-test-1"))
            .run(&scenario(), &run_vars());
        assert_eq!(
            redactor.redact(
                "$ docker volume prune --filter label=berth.lab.run=3f9a1c\n\
                 Step 6/6 : LABEL berth.lab.run=3f9a1c\n\
                 \"berth.lab.run\": \"3f9a1c\", \"Mountpoint\": \"/tmp/berth-test-1/data\"\n\
                 curl http://10.100.0.2/ and 10.100.0.3, 8080/tcp -> 0.0.0.0:49153"
            ),
            "$ docker volume prune --filter label=berth.lab=demo\n\
             Step 6/6 : LABEL berth.lab.run=[RUN]\n\
             \"berth.lab.run\": \"[RUN]\", \"Mountpoint\": \"[ROOT]/data\"\n\
             curl http://${httpd_ip}/ and [IP], 8080/tcp -> 0.0.0.0:[PORT]"
        );
    }

    #[test]
    fn the_legend_names_each_placeholder_once() {
        let legend = legend();
        let mut shown: Vec<&str> = legend.iter().map(|p| p.shown).collect();
        shown.sort_unstable();
        shown.dedup();
        assert_eq!(shown.len(), legend.len());
        // Every rule's replacement shows its own placeholder.
        for rule in RULES {
            assert!(
                rule.replacement.contains(rule.placeholder.shown),
                "{}",
                rule.pattern
            );
        }
        for placeholder in [ROOT, RUN, ID, ID12, TIME, AGO, DATE, PORT, IP, NAME] {
            assert!(legend.contains(&placeholder), "{placeholder:?}");
        }
    }
}
