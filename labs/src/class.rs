//! A class: who the trainee is (`lab whoami`), and `lab roster`, which merges the grade reports
//! collected from many training machines into one sheet for the instructor.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::session::state_root;

/// The name reports carry: the one `lab whoami NAME` set, else `login@machine`.
pub fn trainee() -> String {
    std::fs::read_to_string(state_root().join("trainee"))
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("{}@{}", login_name(), machine()))
}

/// Set the trainee's name for this machine's reports.
pub fn set_trainee(name: &str) -> std::io::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.contains('\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a name is one line of text",
        ));
    }
    let root = state_root();
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join("trainee"), format!("{name}\n"))
}

/// The login name (`$USER`, else the user id's name in /etc/passwd, else the id).
fn login_name() -> String {
    if let Ok(user) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        if !user.is_empty() {
            return user;
        }
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_owned())
        })
        .unwrap_or_else(|| uid.to_string())
}

/// This machine's name.
pub fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// One lab's grade, as a report file holds it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GradeRecord {
    pub lab: String,
    pub trainee: String,
    #[serde(default)]
    pub machine: String,
    pub score: u32,
    pub max_score: u32,
}

/// A report file: one lab's grade (`lab grade ID --format json`) or all of them (`--all`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ReportFile {
    All { labs: Vec<GradeRecord> },
    One(GradeRecord),
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// the file cannot be read
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// the file is not a grade report
    #[error("{} is not a lab grade report (from `lab grade --format json`): {source}", path.display())]
    Parse {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
}

/// The grades in one report file.
pub fn read_report(path: &Path) -> Result<Vec<GradeRecord>, RosterError> {
    let text = std::fs::read_to_string(path).map_err(|source| RosterError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: ReportFile = serde_json::from_str(&text).map_err(|source| RosterError::Parse {
        path: path.to_owned(),
        source,
    })?;
    Ok(match file {
        ReportFile::All { labs } => labs,
        ReportFile::One(one) => vec![one],
    })
}

/// The class sheet: a row per trainee (by name and machine), a column per lab (in `order`,
/// then any other lab by name), the total and the most there was to score. A lab graded twice
/// for one trainee keeps the later report's grade.
pub fn roster_csv(records: &[GradeRecord], order: &[String]) -> String {
    let mut labs: Vec<String> = order
        .iter()
        .filter(|lab| records.iter().any(|r| &r.lab == *lab))
        .cloned()
        .collect();
    let others: BTreeSet<&String> = records
        .iter()
        .map(|r| &r.lab)
        .filter(|lab| !labs.contains(lab))
        .collect();
    labs.extend(others.into_iter().cloned());
    let mut rows: BTreeMap<(String, String), BTreeMap<String, (u32, u32)>> = BTreeMap::new();
    for record in records {
        rows.entry((record.trainee.clone(), record.machine.clone()))
            .or_default()
            .insert(record.lab.clone(), (record.score, record.max_score));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["trainee".to_owned(), "machine".to_owned()];
    header.extend(labs.iter().cloned());
    header.extend(["total".to_owned(), "max".to_owned()]);
    let _ = writer.write_record(&header);
    for ((trainee, machine), grades) in &rows {
        let mut row = vec![trainee.clone(), machine.clone()];
        for lab in &labs {
            row.push(grades.get(lab).map(|(s, _)| s.to_string()).unwrap_or_default());
        }
        row.push(grades.values().map(|(s, _)| s).sum::<u32>().to_string());
        row.push(grades.values().map(|(_, m)| m).sum::<u32>().to_string());
        let _ = writer.write_record(&row);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(trainee: &str, lab: &str, score: u32, max: u32) -> GradeRecord {
        GradeRecord {
            lab: lab.into(),
            trainee: trainee.into(),
            machine: format!("vm-{trainee}"),
            score,
            max_score: max,
        }
    }

    #[test]
    fn a_row_per_trainee_a_column_per_lab_in_course_order() {
        let records = vec![
            record("bob", "volumes", 7, 10),
            record("ada", "first-container", 5, 5),
            record("ada", "volumes", 10, 10),
            record("bob", "first-container", 3, 5),
            record("bob", "extra", 1, 1),
        ];
        let order = vec![
            "first-container".to_owned(),
            "static-site".to_owned(),
            "volumes".to_owned(),
        ];
        insta::assert_snapshot!(roster_csv(&records, &order), @r"
        trainee,machine,first-container,volumes,extra,total,max
        ada,vm-ada,5,10,,15,15
        bob,vm-bob,3,7,1,11,16
        ");
    }

    #[test]
    fn reports_of_one_lab_or_all_labs_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.json");
        std::fs::write(
            &one,
            r#"{"lab":"volumes","trainee":"ada","machine":"vm1","engine":"berth","run":"r1","score":4,"max_score":10,"output":"","tests":[]}"#,
        )
        .unwrap();
        let all = dir.path().join("all.json");
        std::fs::write(
            &all,
            r#"{"trainee":"ada","machine":"vm1","score":4,"max_score":10,"labs":[{"lab":"volumes","trainee":"ada","machine":"vm1","score":4,"max_score":10,"output":"","tests":[]}]}"#,
        )
        .unwrap();
        assert_eq!(read_report(&one).unwrap(), read_report(&all).unwrap());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"score\": 1}").unwrap();
        let error = read_report(&bad).unwrap_err().to_string();
        assert!(error.contains("bad.json is not a lab grade report"), "{error}");
        let missing = read_report(&dir.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(missing.starts_with("cannot read "), "{missing}");
    }
}
