//! What lab prints for people: a step's screen, commands and their output, what the engine did,
//! checks that hold or not. Colours go through `anstream`, which drops them when the output is
//! not a terminal or `NO_COLOR` is set.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use berth_api::explain::ExplainEvent;

use crate::checks::Outcome;
use crate::replay::Watcher;
use crate::report::CommandReport;
use crate::scenario::{Step, StepCommand};

pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const DIM: Style = Style::new().dimmed();
pub(crate) const GREEN: Style = AnsiColor::Green.on_default();
pub(crate) const RED: Style = AnsiColor::Red.on_default();
pub(crate) const TITLE: Style = AnsiColor::Cyan.on_default().bold();

/// Most explain lines shown after one command; the rest are counted.
const EXPLAIN_LINES: usize = 12;

/// The output lab prints to (stdout, colours as the terminal allows).
pub fn out() -> anstream::AutoStream<std::io::Stdout> {
    anstream::stdout()
}

/// Whether lab's own output takes colours (a terminal, and `NO_COLOR` unset): text lab sends
/// through the shell's hook follows the same choice.
pub fn color_wanted() -> bool {
    !matches!(
        anstream::AutoStream::choice(&std::io::stdout()),
        anstream::ColorChoice::Never
    )
}

/// The step's screen: its title, its text, the commands to type.
pub fn step(out: &mut dyn Write, number: usize, total: usize, step: &Step) {
    let title = format!("━━ Step {number} of {total} · {} ", step.title);
    let width = title.chars().count();
    let _ = writeln!(
        out,
        "\n{TITLE}{title}{}{TITLE:#}\n",
        "━".repeat(72usize.saturating_sub(width))
    );
    let _ = writeln!(out, "{}", markdown(&step.text));
    if !step.commands.is_empty() {
        let _ = writeln!(out);
        for command in &step.commands {
            let _ = writeln!(out, "    {BOLD}$ {}{BOLD:#}", command.run);
            for line in &command.input {
                let _ = writeln!(out, "      {DIM}>{DIM:#} {line}");
            }
        }
    }
    if !step.done_when.trim().is_empty() {
        let _ = writeln!(
            out,
            "\n{BOLD}Done when{BOLD:#} {}.",
            crate::show::clause(&step.done_when)
        );
    }
    let _ = writeln!(out);
}

/// Markdown for a terminal: as written, but code fences dropped and their lines indented.
pub fn markdown(text: &str) -> String {
    let mut lines = Vec::new();
    let mut in_code = false;
    for line in text.trim_end().lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        lines.push(if in_code {
            format!("    {line}")
        } else {
            line.to_owned()
        });
    }
    lines.join("\n")
}

/// The step's `index`-th hint, "hint 2 of 3: …" (the last one repeats); `None` without hints.
pub fn hint_text(hints: &[String], shown: usize) -> Option<String> {
    let last = hints.len().checked_sub(1)?;
    let index = shown.min(last);
    Some(format!(
        "hint {} of {}: {}",
        index + 1,
        hints.len(),
        markdown(&hints[index])
    ))
}

/// "✓ step 3 done".
pub fn step_done(out: &mut dyn Write, number: usize) {
    let _ = writeln!(out, "  {GREEN}✓ step {number} done{GREEN:#}");
}

/// A step whose checks held as it came up.
pub fn already_done(out: &mut dyn Write, number: usize, title: &str, resuming: bool) {
    let why = if resuming {
        "its checks hold"
    } else {
        "you did it ahead"
    };
    let _ = writeln!(
        out,
        "  {GREEN}✓ step {number} ({title}) is done already: {why}{GREEN:#}"
    );
}

/// Every step done.
pub fn lab_done(out: &mut dyn Write, title: &str) {
    let _ = writeln!(out, "\n{TITLE}━━ You finished {title} ━━{TITLE:#}");
}

/// Where the step stands after a command that did not finish it, and what it wants.
pub fn progress(out: &mut dyn Write, number: usize, total: usize, outcomes: &[Outcome], done_when: &str) {
    let holding = outcomes.iter().filter(|o| o.holds).count();
    let _ = writeln!(
        out,
        "  {DIM}· step {number} of {total}: {holding} of {} checks hold (`check` shows them, `hint` helps){DIM:#}",
        outcomes.len()
    );
    wanted(out, done_when);
}

/// What a step that is not done yet wants, in plain words: "done when …".
pub fn wanted(out: &mut dyn Write, done_when: &str) {
    if !done_when.trim().is_empty() {
        let _ = writeln!(
            out,
            "    {DIM}done when {}{DIM:#}",
            crate::show::clause(done_when)
        );
    }
}

/// Waiting for a check that may come true by itself.
pub fn waiting(out: &mut dyn Write, limit: std::time::Duration) {
    let _ = writeln!(
        out,
        "  {DIM}· waiting up to {} s for the engine to finish…{DIM:#}",
        limit.as_secs()
    );
}

/// A command the shell could not find: name the likely typo.
pub fn not_a_command(out: &mut dyn Write, line: &str) {
    let word = line.split_whitespace().next().unwrap_or_default();
    if !word.is_empty() && word != "docker" && close_to(word, "docker") {
        let _ = writeln!(out, "  {DIM}· `{word}`: did you mean `docker`?{DIM:#}");
    }
}

/// Two words at most two single-letter edits apart (a swap of neighbours counts as one).
fn close_to(word: &str, target: &str) -> bool {
    strsim::damerau_levenshtein(word, target) <= 2
}

/// A done step, re-checked on resume.
pub fn rechecked(out: &mut dyn Write, number: usize, title: &str, outcomes: &[Outcome]) {
    if outcomes.iter().all(|o| o.holds) {
        let _ = writeln!(out, "  {GREEN}✓{GREEN:#} {number}. {title}");
        return;
    }
    let _ = writeln!(
        out,
        "  {DIM}↷{DIM:#} {number}. {title} {DIM}(changed since:{DIM:#}"
    );
    for outcome in outcomes.iter().filter(|o| !o.holds) {
        let _ = writeln!(
            out,
            "      {DIM}{}: found {}){DIM:#}",
            outcome.check, outcome.found
        );
    }
}

/// What the engine did for a command, in one line: the kinds of kernel work, how many steps of
/// each (`explain` shows them all).
pub fn explain_line(out: &mut dyn Write, events: &[ExplainEvent]) {
    if events.is_empty() {
        return;
    }
    // In the order a container comes to life.
    const KINDS: &[(&str, &str)] = &[
        ("images", "images"),
        ("layers", "layers"),
        ("volumes", "volumes"),
        ("container", "container records"),
        ("namespaces", "namespaces"),
        ("mounts", "mounts"),
        ("network", "veth & bridge"),
        ("firewall", "nftables rules"),
        ("ports", "published ports"),
        ("dns", "DNS"),
        ("cgroups", "cgroup"),
        ("security", "capabilities & seccomp"),
        ("process", "processes"),
    ];
    let count = |kind: &str| events.iter().filter(|e| e.kind.as_deref() == Some(kind)).count();
    let mut parts: Vec<String> = KINDS
        .iter()
        .filter_map(|(kind, words)| match count(kind) {
            0 => None,
            1 => Some((*words).to_owned()),
            n => Some(format!("{words} ×{n}")),
        })
        .collect();
    let unkinded = events
        .iter()
        .filter(|e| {
            !e.kind
                .as_deref()
                .is_some_and(|k| KINDS.iter().any(|(kind, _)| *kind == k))
        })
        .count();
    if unkinded > 0 {
        parts.push(format!("other ×{unkinded}"));
    }
    let _ = writeln!(
        out,
        "  {DIM}⚙ {}: {} (`explain` shows them){DIM:#}",
        match events.len() {
            1 => "1 step".to_owned(),
            n => format!("{n} steps"),
        },
        parts.join(" · ")
    );
}

/// A command about to run (replays print it as if typed).
pub fn command(out: &mut dyn Write, command: &StepCommand) {
    let _ = writeln!(out, "{BOLD}$ {}{BOLD:#}", command.run);
}

/// A replayed command's output, and its exit code when it is not the expected one.
pub fn finished(out: &mut dyn Write, report: &CommandReport) {
    let _ = write!(out, "{}", report.output);
    if !report.output.is_empty() && !report.output.ends_with('\n') {
        let _ = writeln!(out);
    }
    if !report.ok() {
        let ended = match report.exit_code {
            Some(code) => format!("exit code {code}"),
            None => "killed: it ran too long".to_owned(),
        };
        let _ = writeln!(
            out,
            "{RED}✗ {ended} (expected {}){RED:#}",
            report.expected_exit_code
        );
    }
}

/// What the engine did: its explain events, one plain sentence each (the first few; `all`
/// shows every one).
pub fn explain(out: &mut dyn Write, events: &[ExplainEvent], all: bool) {
    if events.is_empty() {
        return;
    }
    let shown = if all { events.len() } else { EXPLAIN_LINES };
    let _ = writeln!(out, "{DIM}  what the engine did:{DIM:#}");
    for event in events.iter().take(shown) {
        let _ = writeln!(out, "{DIM}  {:<13} {}{DIM:#}", event.source, event.msg);
    }
    if events.len() > shown {
        let _ = writeln!(
            out,
            "{DIM}  … and {} more (`explain` shows them all){DIM:#}",
            events.len() - shown
        );
    }
}

/// Checks, one line each: ✓ when it holds, ✗ with what was found when not.
pub fn checks(out: &mut dyn Write, outcomes: &[Outcome]) {
    for outcome in outcomes {
        if outcome.holds {
            let _ = writeln!(out, "  {GREEN}✓{GREEN:#} {}", outcome.check);
        } else {
            let _ = writeln!(
                out,
                "  {RED}✗{RED:#} {}\n      {DIM}expected {}, found {}{DIM:#}",
                outcome.check, outcome.expected, outcome.found
            );
        }
    }
}

/// A replay shown as it goes (`lab run --auto`, `lab check --verbose`).
pub struct Live<W: Write> {
    pub out: W,
}

impl<W: Write> Watcher for Live<W> {
    fn step(&mut self, number: usize, total: usize, s: &Step) {
        step(&mut self.out, number, total, s);
    }
    fn command(&mut self, c: &StepCommand) {
        command(&mut self.out, c);
        let _ = self.out.flush();
    }
    fn finished(&mut self, report: &CommandReport) {
        finished(&mut self.out, report);
    }
    fn explain(&mut self, events: &[ExplainEvent]) {
        explain(&mut self.out, events, false);
    }
    fn checks(&mut self, outcomes: &[Outcome]) {
        checks(&mut self.out, outcomes);
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_of_docker_are_named() {
        let said = |line: &str| {
            let mut out = Vec::new();
            not_a_command(&mut out, line);
            String::from_utf8(strip_ansi_escapes::strip(out)).unwrap()
        };
        assert_eq!(said("dokcer ps"), "  · `dokcer`: did you mean `docker`?\n");
        assert_eq!(said("dcoker run x"), "  · `dcoker`: did you mean `docker`?\n");
        assert_eq!(said("docke ps"), "  · `docke`: did you mean `docker`?\n");
        assert_eq!(said("ls -l"), "");
        assert_eq!(said("kubectl get pods"), "");
    }

    #[test]
    fn code_fences_become_indented_lines() {
        assert_eq!(
            markdown("Run:\n\n```sh\ndocker ps\n```\n\nThen go on."),
            "Run:\n\n    docker ps\n\nThen go on."
        );
    }

    #[test]
    fn a_step_screen_shows_title_text_and_commands() {
        let step = Step {
            title: "Run httpd".into(),
            text: "Start **httpd** on port `8080`.".into(),
            commands: vec![
                StepCommand {
                    run: "docker run --name httpd -p 8080:80 -d httpd:2.4".into(),
                    input: vec![],
                    tty: false,
                    exit_code: 0,
                    retry_for: None,
                },
                StepCommand {
                    run: "docker exec -it httpd bash".into(),
                    input: vec!["ls htdocs".into(), "exit".into()],
                    tty: true,
                    exit_code: 0,
                    retry_for: None,
                },
            ],
            checks: vec![],
            done_when: "`httpd` is running and http://localhost:8080/ answers".into(),
            captures: vec![],
            book_trace: None,
            hints: vec![],
        };
        let mut out = anstream::StripStream::new(Vec::new());
        super::step(&mut out, 2, 9, &step);
        insta::assert_snapshot!(String::from_utf8(out.into_inner()).unwrap());
    }
}
