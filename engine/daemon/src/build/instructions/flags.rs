//! An instruction's `--name=value` flags, checked as buildkit's `BFlags` checks them.
//!
//! Every flag the classic builder knows takes a string value; there is no boolean one.

use super::InstructionErrorKind;

/// The flags given to an instruction, checked against the names it takes.
#[derive(Debug, Default)]
pub(super) struct Flags {
    values: Vec<(&'static str, String)>,
}

impl Flags {
    /// Check `given` (each `--name=value`; a bare `--` ends them) against `known`.
    pub fn parse(given: &[String], known: &[&'static str]) -> Result<Self, InstructionErrorKind> {
        let mut flags = Flags::default();
        for flag in given {
            let Some(flag) = flag.strip_prefix("--") else {
                return Err(InstructionErrorKind::FlagWithoutDashes(flag.clone()));
            };
            if flag.is_empty() {
                break;
            }
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (flag, None),
            };
            let Some(&known_name) = known.iter().find(|&&k| k == name) else {
                return Err(InstructionErrorKind::UnknownFlag(name.to_owned()));
            };
            if flags.values.iter().any(|(n, _)| *n == known_name) {
                return Err(InstructionErrorKind::DuplicateFlag(name.to_owned()));
            }
            let value = value.ok_or_else(|| InstructionErrorKind::MissingFlagValue(name.to_owned()))?;
            flags.values.push((known_name, value.to_owned()));
        }
        Ok(flags)
    }

    /// A flag's value; `None` when not given or given empty (Docker makes no difference).
    pub fn get(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(given: &[&str]) -> Result<Flags, String> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        Flags::parse(&given, &["chown", "from"]).map_err(|e| e.to_string())
    }

    #[test]
    fn flags_are_checked_as_dockers() {
        let parsed = flags(&["--chown=1:2", "--from="]).unwrap();
        assert_eq!(parsed.get("chown").as_deref(), Some("1:2"));
        assert_eq!(parsed.get("from"), None);
        // Each message as Docker 20.10 printed it for a COPY.
        assert_eq!(flags(&["--foo=1"]).unwrap_err(), "Unknown flag: foo");
        assert_eq!(flags(&["--chown"]).unwrap_err(), "Missing a value on flag: chown");
        assert_eq!(
            flags(&["--chown=1", "--chown=2"]).unwrap_err(),
            "Duplicate flag specified: chown"
        );
        // A bare `--` ends the flags.
        assert!(flags(&["--", "--foo"]).is_ok());
    }
}
