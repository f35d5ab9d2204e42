//! Trainees, simulated at a terminal (expectrl on a pseudo-terminal): `lab run` in their own
//! shell with the mistakes people make — typos, a later step's command typed early, Ctrl-C,
//! Ctrl-D and coming back, ↑ for history, shell variables — and the verdict for each; then what
//! `lab status`, `lab grade` and `lab reset` make of the session.

use std::process::Command;
use std::time::Duration;

use expectrl::{ControlCode, Expect, Session};

use crate::common::{LabDaemon, TempDir, TestDaemon, docker_cli, docker_host, scenarios_dir, stable};

/// A trainee's terminal running one program, and everything it showed so far.
struct Terminal {
    session: expectrl::session::OsSession,
    seen: Vec<u8>,
}

impl Terminal {
    fn spawn(command: Command) -> Terminal {
        let mut session = Session::spawn(command).expect("spawn on a pty");
        session.set_expect_timeout(Some(Duration::from_secs(60)));
        let _ = session.get_process_mut().set_window_size(160, 50);
        // A terminal echoes what is typed (expectrl's pseudo-terminals start without echo, and
        // readline then echoes nothing, as for a password).
        session
            .get_process_mut()
            .set_echo(true, None)
            .expect("turn echo on");
        Terminal {
            session,
            seen: Vec::new(),
        }
    }

    /// Read until `needle` shows.
    fn expect(&mut self, needle: &str) {
        match self.session.expect(needle) {
            Ok(found) => {
                self.seen.extend_from_slice(found.before());
                self.seen.extend_from_slice(needle.as_bytes());
            }
            Err(e) => panic!("{needle:?} never showed ({e}); the screen:\n{}", self.screen()),
        }
    }

    /// Type a line and press Enter.
    fn type_line(&mut self, line: &str) {
        self.session.send(line).unwrap();
        self.session.send("\r").unwrap();
    }

    fn press(&mut self, keys: &str) {
        self.session.send(keys).unwrap();
    }

    fn control(&mut self, code: ControlCode) {
        self.session.send(code).unwrap();
    }

    /// Wait for the program to end; answers its exit code and the whole screen.
    fn finish(mut self) -> (i32, String) {
        if let Ok(found) = self.session.expect(expectrl::Eof) {
            self.seen.extend_from_slice(found.before());
            for part in found.matches() {
                self.seen.extend_from_slice(part);
            }
        }
        let status = self.session.get_process_mut().wait().expect("the program ends");
        let code = match status {
            expectrl::process::unix::WaitStatus::Exited(_, code) => code,
            other => panic!("lab ended by {other:?}"),
        };
        (code, self.screen())
    }

    fn screen(&self) -> String {
        berth_lab::shell::terminal_text(&self.seen)
    }
}

/// `lab ARGS` on a terminal against `daemon`, with sessions in `state` and a home of its own
/// (no ~/.bashrc of the machine's), colours off.
fn lab_on_terminal(daemon: &TestDaemon, state: &TempDir, args: &[&str]) -> Terminal {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
    command.args(["--host", &daemon.host()]).args(args);
    trainee_env(&mut command, state);
    Terminal::spawn(command)
}

/// The environment of a trainee's terminal: lab's state and a home in `state`.
fn trainee_env(command: &mut Command, state: &TempDir) {
    let home = state.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    command
        .env("BERTH_LAB_HOME", state.path())
        .env("BERTH_LAB_SCENARIOS", scenarios_dir())
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("INPUTRC", "/dev/null")
        .env("USER", "trainee")
        .env_remove("BERTH_HOST")
        .env_remove("PROMPT_COMMAND")
        .current_dir(state.path());
}

/// A test daemon for first-container, which needs busybox and hello-world: the stand-ins are
/// byte for byte the lab images' own, so lab finds them and loads nothing more (the whole
/// archive of real programs would take seconds per test).
fn daemon_for_first_container() -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon
}

/// `lab ARGS` (not on a terminal) with the trainee's state, against `daemon` when given.
fn lab(state: &TempDir, daemon: Option<&TestDaemon>, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
    if let Some(daemon) = daemon {
        command.args(["--host", &daemon.host()]);
    }
    command.args(args);
    trainee_env(&mut command, state);
    command.output().expect("run lab")
}

fn ok(output: std::process::Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn grade_json(state: &TempDir, daemon: Option<&TestDaemon>, lab_id: &str) -> serde_json::Value {
    let text = ok(lab(state, daemon, &["grade", lab_id, "--format", "json"]));
    serde_json::from_str(&text).unwrap()
}

/// A screen made stable: the engine's one-line summaries become a placeholder, and ids, paths,
/// times and run ids are redacted.
fn stable_screen(screen: &str, daemon: &TestDaemon, state: &TempDir) -> String {
    let text = screen.replace(&state.path().display().to_string(), "[STATE]");
    let rules: &[(&str, &str)] = &[
        (r"(?m)^  ⚙ \d+ steps?: .*$", "  ⚙ [what the engine did]"),
        (r"engine: Berth Engine \S+", "engine: Berth Engine [VERSION]"),
        (r"docker: \S+/berth ", "docker: [BIN]/berth "),
        (r"berth\.lab\.run=[0-9a-f]{6}", "berth.lab.run=[RUN]"),
        (r"run [0-9a-f]{6}", "run [RUN]"),
    ];
    let machine = berth_lab::class::machine();
    let text = text.replace(&format!("@{machine} on {machine}"), "@[MACHINE] on [MACHINE]");
    let mut text = text;
    for (pattern, replacement) in rules {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *replacement)
            .into_owned();
    }
    stable(&text, None, Some(&daemon.root))
}

#[test]
fn a_trainee_does_first_container_in_their_own_shell() {
    let daemon = daemon_for_first_container();
    let state = TempDir::new("berth-lab-state");
    let mut t = lab_on_terminal(&daemon, &state, &["run", "first-container"]);
    t.expect("[first-container 1/5] work ");
    t.type_line("hint");
    t.expect("hint 1 of 1: Type `docker ps` and press Enter.");
    t.expect("[first-container 1/5] work ");
    // A typo: the shell says so, lab points at the word, the step waits.
    t.type_line("dokcer ps");
    t.expect("`dokcer`: did you mean `docker`?");
    t.expect("[first-container 1/5] work ");
    t.type_line("docker ps");
    t.expect("✓ step 1 done");
    t.expect("[first-container 2/5] work ");
    // Step 3's command typed during step 2 does not do step 2.
    t.type_line("docker ps -a");
    t.expect("· step 2 of 5: 0 of 1 checks hold");
    t.expect("[first-container 2/5] work ");
    t.type_line("docker run hello-world");
    t.expect("Hello from Docker!");
    t.expect("✓ step 2 done");
    t.expect("[first-container 3/5] work ");
    // Step 4's work done during step 3 is recognised when step 4 comes up.
    t.type_line("docker container run busybox");
    t.expect("· step 3 of 5: 0 of 1 checks hold");
    t.expect("[first-container 3/5] work ");
    // The shell is a shell: variables last, and ↑ brings the last line back.
    t.type_line("X=5");
    t.expect("[first-container 3/5] work ");
    t.type_line("echo \"x is $X\"");
    t.expect("x is 5");
    t.expect("[first-container 3/5] work ");
    t.press("\x1b[A\r");
    t.expect("x is 5");
    t.expect("[first-container 3/5] work ");
    t.type_line("docker ps -a");
    t.expect("✓ step 3 done");
    t.expect("✓ step 4 (Run busybox) is done already: you did it ahead");
    t.expect("[first-container 5/5] work ");
    // Ctrl-C stops the command and gives a fresh prompt; lab stays.
    t.type_line("sleep 30");
    std::thread::sleep(Duration::from_millis(300));
    t.control(ControlCode::EndOfText);
    t.expect("[first-container 5/5] work ");
    t.type_line("check");
    t.expect("✗ you ran `docker container inspect`");
    t.expect("[first-container 5/5] work ");
    t.type_line("explain");
    t.expect("the engine explained nothing for the last command");
    t.expect("[first-container 5/5] work ");
    // Ctrl-D leaves; the session stays.
    t.control(ControlCode::EndOfTransmission);
    t.expect("Left at step 5 of 5");
    let (code, first_screen) = t.finish();
    assert_eq!(code, 0, "{first_screen}");

    // Where the trainee stands, as a script reads it.
    let status: serde_json::Value =
        serde_json::from_str(&ok(lab(&state, Some(&daemon), &["status", "--json"]))).unwrap();
    assert_eq!(status["lab"], "first-container");
    assert_eq!(status["engine"], "berth");
    assert_eq!(status["host"], daemon.host().as_str());
    assert_eq!(status["step"], 5);
    assert_eq!(status["steps"], 5);
    assert_eq!(status["done"], serde_json::json!([1, 2, 3, 4]));

    // Coming back: the same step, the done ones re-checked, the history there.
    let mut t = lab_on_terminal(&daemon, &state, &["run", "first-container"]);
    t.expect("Resuming at step 5 of 5");
    t.expect("✓ 4. Run busybox");
    t.expect("[first-container 5/5] work ");
    t.press("\x1b[A");
    t.expect("explain");
    t.press("\x15"); // Ctrl-U: the line is dropped, not run
    t.type_line("docker container inspect $(docker ps -lq) | grep -c '\"Cmd\"'");
    t.expect("✓ step 5 done");
    t.expect("You finished Running your first Docker container");
    t.expect("score: 5/5");
    t.expect("What next: `lab run static-site`");
    let (code, second_screen) = t.finish();
    assert_eq!(code, 0, "{second_screen}");
    insta::assert_snapshot!(
        "first_container_in_their_own_shell",
        stable_screen(
            &format!("{first_screen}\n[left, and came back]\n{second_screen}"),
            &daemon,
            &state
        )
    );

    // The transcript holds what was typed, each in its step, with its exit status; never the
    // lab's own words.
    let transcript = std::fs::read_to_string(state.path().join("first-container/transcript.jsonl")).unwrap();
    let commands: Vec<(u64, String, i64)> = transcript
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["step"].as_u64().unwrap(),
                v["command"].as_str().unwrap().to_owned(),
                v["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    let typed = |step: u64, command: &str, code: i64| (step, command.to_owned(), code);
    assert_eq!(
        commands,
        [
            typed(0, "dokcer ps", 127),
            typed(0, "docker ps", 0),
            typed(1, "docker ps -a", 0),
            typed(1, "docker run hello-world", 0),
            typed(2, "docker container run busybox", 0),
            typed(2, "X=5", 0),
            typed(2, "echo \"x is $X\"", 0),
            typed(2, "echo \"x is $X\"", 0),
            typed(2, "docker ps -a", 0),
            typed(4, "sleep 30", 130),
            typed(
                4,
                "docker container inspect $(docker ps -lq) | grep -c '\"Cmd\"'",
                0
            ),
        ]
    );

    // Grading reads the same session; a reset ends it, and the grade is 0 again.
    let grade = grade_json(&state, Some(&daemon), "first-container");
    assert_eq!(
        (grade["score"].as_u64(), grade["max_score"].as_u64()),
        (Some(5), Some(5)),
        "{grade}"
    );
    assert_eq!(grade["lab"], "first-container");
    assert_eq!(
        grade["trainee"],
        "trainee@".to_owned() + &berth_lab::class::machine()
    );
    let removed = ok(lab(&state, Some(&daemon), &["reset", "first-container"]));
    assert_eq!(removed.matches("removed container ").count(), 2, "{removed}");
    let grade = grade_json(&state, Some(&daemon), "first-container");
    assert_eq!(grade["score"].as_u64(), Some(0), "{grade}");
}

/// A value a step captures is a variable of the trainee's shell, exported, from the moment that
/// step is done: the book's `docker container inspect ${busybox_id}` works when pasted, and
/// says in words what each step wants while it is not done.
#[test]
fn captured_values_are_the_shells_variables() {
    let daemon = daemon_for_first_container();
    let state = TempDir::new("berth-lab-state");
    let mut t = lab_on_terminal(&daemon, &state, &["run", "first-container"]);
    t.expect("Done when you have listed the running containers with `docker ps`.");
    t.expect("[first-container 1/5] work ");
    // Nothing captured yet: the variable is not set.
    t.type_line("echo \"id=[${busybox_id-unset}]\"");
    t.expect("id=[unset]");
    t.expect("[first-container 1/5] work ");
    t.type_line("docker ps");
    t.expect("[first-container 2/5] work ");
    // A command that does not do the step: lab says what the step wants, in words.
    t.type_line("docker ps -a");
    t.expect("· step 2 of 5: 0 of 1 checks hold");
    t.expect("done when a container from `hello-world` has printed *Hello from Docker!*");
    t.expect("[first-container 2/5] work ");
    t.type_line("docker run hello-world");
    t.expect("[first-container 3/5] work ");
    t.type_line("docker ps -a");
    t.expect("[first-container 4/5] work ");
    t.type_line("docker container run busybox");
    t.expect("✓ step 4 done");
    t.expect("[first-container 5/5] work ");
    let session: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.path().join("first-container/session.json")).unwrap(),
    )
    .unwrap();
    let id = session["vars"]["busybox_id"]
        .as_str()
        .expect("the id was captured")
        .to_owned();
    assert_eq!(id.len(), 12, "{session}");
    // In the shell, and in the environment of what it runs.
    t.type_line("sh -c 'echo \"from a child: $busybox_id\"'");
    t.expect(&format!("from a child: {id}"));
    t.expect("[first-container 5/5] work ");
    // Pasted from the book as it is.
    t.type_line("docker container inspect ${busybox_id} | grep -c '\"Cmd\"'");
    t.expect("✓ step 5 done");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    let inspected = daemon
        .api()
        .container(&id)
        .unwrap()
        .expect("the id names a container");
    assert_eq!(inspected.config.image, "busybox", "{screen}");
}

#[test]
fn a_trainee_who_leaves_gets_partial_credit() {
    let daemon = daemon_for_first_container();
    let state = TempDir::new("berth-lab-state");
    let mut t = lab_on_terminal(&daemon, &state, &["run", "first-container", "--explain", "full"]);
    t.expect("[first-container 1/5] work ");
    t.type_line("docker ps");
    t.expect("[first-container 2/5] work ");
    t.type_line("docker run hello-world");
    // All of what the engine did, as asked.
    t.expect("what the engine did:");
    t.expect("berth-runtime");
    t.expect("[first-container 3/5] work ");
    t.type_line("exit");
    t.expect("Left at step 3 of 5.");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    let text = ok(lab(&state, Some(&daemon), &["grade", "first-container"]));
    let machine = berth_lab::class::machine();
    let text = text.replace(&format!("@{machine} on {machine}"), "@[MACHINE] on [MACHINE]");
    let text = regex::Regex::new(r"run [0-9a-f]{6} on berth started [^,\s]+")
        .unwrap()
        .replace_all(&text, "run [RUN] on berth started [TIME]");
    insta::assert_snapshot!(text);
}

#[test]
fn the_trainees_own_bashrc_comes_along() {
    let daemon = daemon_for_first_container();
    let state = TempDir::new("berth-lab-state");
    // Their alias, and a PATH of their own with another `docker` ahead of the lab's.
    let home = state.path().join("home");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    std::fs::write(home.join("bin/docker"), "#!/bin/sh\necho not the lab's docker\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.join("bin/docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        home.join(".bashrc"),
        "alias greet='echo hello from the alias'\nexport PATH=\"$HOME/bin:$PATH\"\n",
    )
    .unwrap();
    let mut t = lab_on_terminal(&daemon, &state, &["run", "first-container"]);
    t.expect("[first-container 1/5] work ");
    t.type_line("greet");
    t.expect("hello from the alias");
    t.expect("[first-container 1/5] work ");
    t.type_line("docker ps");
    t.expect("✓ step 1 done");
    t.expect("[first-container 2/5] work ");
    // The client speaks as what the trainee typed: docker.
    t.type_line("docker run --bogus hello-world");
    t.expect("unknown flag: --bogus");
    t.expect("See 'docker run --help'.");
    t.expect("[first-container 2/5] work ");
    t.type_line("exit");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("not the lab's docker"), "{screen}");
    assert!(!screen.contains("berth run --help"), "{screen}");
}

#[test]
fn grades_count_only_what_the_trainee_did() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    // Another lab's `web1`: not this lab's work.
    daemon.ensure_images(&["busybox"]);
    let made = daemon.output(&[
        "run",
        "-d",
        "--name",
        "web1",
        "--label",
        "berth.lab=volumes",
        "busybox",
        "sleep",
        "600",
    ]);
    assert!(made.status.success(), "{made:?}");
    let grade = grade_json(&state, Some(&daemon), "handcrafted-images");
    assert_eq!(grade["score"].as_u64(), Some(0), "never started: {grade}");
    assert_eq!(grade["max_score"].as_u64(), Some(7));

    // A trainee who only lists the volumes: nothing earned, and no `${…}` in what they read.
    let mut t = lab_on_terminal(&daemon, &state, &["run", "volumes", "--yes"]);
    t.expect("removed container web1");
    t.expect("[volumes 1/12] work ");
    t.type_line("docker volume ls");
    t.expect("✓ step 1 done");
    t.expect("[volumes 2/12] work ");
    t.type_line("exit");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    let text = ok(lab(&state, Some(&daemon), &["grade", "volumes"]));
    assert!(text.contains("score: 0/10"), "{text}");
    assert!(!text.contains("${"), "a raw variable in the grade:\n{text}");
    assert!(
        text.contains("volume (the volume `dbTmp` mounts at `/var/lib/postgresql/data`) is gone"),
        "a capture not taken is said in words:\n{text}"
    );
}

#[test]
fn a_step_is_done_only_through_its_own_work() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    let mut t = lab_on_terminal(&daemon, &state, &["run", "volumes"]);
    t.expect("[volumes 1/12] work ");
    for step in 1..9 {
        t.type_line("skip");
        t.expect(&format!("[volumes {}/12] work ", step + 1));
    }
    // Step 9, "look inside with `exec -it`": `docker ps` is not it.
    t.type_line("docker ps");
    t.expect("· step 9 of 12: 0 of 2 checks hold");
    t.type_line("skip");
    t.expect("[volumes 10/12] work ");
    t.type_line("skip");
    t.expect("[volumes 11/12] work ");
    // Step 11, prune: `scratch` not existing yet is not the same as pruned.
    t.type_line("docker volume ls");
    t.expect("· step 11 of 12: 0 of 3 checks hold");
    t.type_line("docker volume create scratch");
    t.expect("[volumes 11/12] work ");
    t.type_line("docker volume prune --filter label=berth.lab=volumes");
    t.expect("Are you sure you want to continue? [y/N]");
    t.type_line("y");
    t.expect("Total reclaimed space");
    t.expect("[volumes 11/12] work ");
    t.type_line("check");
    t.expect("✓ volume `scratch` is gone");
    t.type_line("exit");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    // The volume a trainee's `-v web:/…` would make carries the run's label: reset finds it.
    let mut t = lab_on_terminal(&daemon, &state, &["run", "volumes"]);
    t.expect("[volumes 11/12] work ");
    t.type_line("docker run --rm -v web:/data busybox true");
    t.expect("[volumes 11/12] work ");
    t.type_line("exit");
    t.finish();
    let volume = daemon.api().volume("web").unwrap().expect("the volume was made");
    let labels = volume.labels.unwrap_or_default();
    assert_eq!(labels.get("berth.lab").map(String::as_str), Some("volumes"));
    let removed = ok(lab(&state, Some(&daemon), &["reset", "volumes"]));
    assert!(removed.contains("removed volume web"), "{removed}");
}

#[test]
fn labs_in_the_books_order_clear_each_others_way() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    // static-site, played and left as a trainee leaves it: httpd on 8080, nginx on 8081.
    ok(lab(&state, Some(&daemon), &["run", "static-site", "--auto"]));
    let mut t = lab_on_terminal(&daemon, &state, &["run", "handcrafted-images"]);
    t.expect("These stand in the way of handcrafted-images:");
    t.expect("container httpd (has a name this lab uses; lab static-site's)");
    t.expect("container nginx (publishes port 8081, which this lab uses; lab static-site's)");
    t.expect("Remove them? [y/N] ");
    t.type_line("y");
    t.expect("removed container httpd");
    t.expect("[handcrafted-images 1/7] work ");
    t.type_line("exit");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(daemon.api().container("nginx").unwrap().is_none());
    // Without a terminal to ask on, lab names what is in the way and does not start.
    ok(lab(&state, Some(&daemon), &["reset", "handcrafted-images"]));
    daemon.ensure_images(&["busybox"]);
    let made = daemon.output(&["run", "-d", "--name", "web1", "busybox", "sleep", "600"]);
    assert!(made.status.success(), "{made:?}");
    let refused = lab(&state, Some(&daemon), &["run", "handcrafted-images"]);
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stdout) + String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("container web1 (has a name this lab uses; made outside the labs)"),
        "{said}"
    );
    assert!(said.contains("`lab run handcrafted-images --yes`"), "{said}");
}

#[test]
fn the_session_keeps_the_engine_it_ran_on() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    let docker = docker_host();
    let client = docker_cli();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
    command
        .args([
            "run",
            "first-container",
            "--engine",
            "docker",
            "--host",
            &docker,
            "--client",
        ])
        .arg(&client);
    trainee_env(&mut command, &state);
    let mut t = Terminal::spawn(command);
    t.expect("[first-container 1/5] work ");
    t.type_line("docker ps");
    t.expect("[first-container 2/5] work ");
    t.type_line("docker run hello-world");
    t.expect("✓ step 2 done");
    t.type_line("exit");
    t.finish();
    // No --engine, no --host: grade, status and reset go to the Docker daemon the run used,
    // though BERTH_HOST names a berthd.
    let mut grade = Command::new(env!("CARGO_BIN_EXE_lab"));
    grade.args(["grade", "first-container", "--format", "json"]);
    trainee_env(&mut grade, &state);
    grade.env("BERTH_HOST", daemon.host());
    let grade: serde_json::Value = serde_json::from_str(&ok(grade.output().unwrap())).unwrap();
    assert_eq!(grade["engine"], "docker");
    assert_eq!(
        grade["score"].as_u64(),
        Some(2),
        "hello-world ran on Docker: {grade}"
    );
    let removed = ok(lab(&state, None, &["reset", "first-container"]));
    assert!(removed.contains("removed container "), "{removed}");
}

#[test]
fn a_class_sheet_from_many_machines() {
    let state = TempDir::new("berth-lab-state");
    assert_eq!(
        ok(lab(&state, None, &["whoami", "Ada Lovelace"])),
        "Ada Lovelace\n"
    );
    let never = state.path().join("first.json");
    let output = lab(
        &state,
        None,
        &[
            "grade",
            "first-container",
            "--format",
            "json",
            "-o",
            never.to_str().unwrap(),
        ],
    );
    // A lab never started grades 0 without an engine to ask.
    assert!(output.status.success(), "{output:?}");
    let other = state.path().join("other.json");
    std::fs::write(
        &other,
        r#"{"trainee":"Bob","machine":"bobs-laptop","score":8,"max_score":15,"labs":[
            {"lab":"first-container","trainee":"Bob","machine":"bobs-laptop","score":5,"max_score":5},
            {"lab":"volumes","trainee":"Bob","machine":"bobs-laptop","score":3,"max_score":10}]}"#,
    )
    .unwrap();
    let broken = state.path().join("broken.json");
    std::fs::write(&broken, "not json").unwrap();
    let output = lab(
        &state,
        None,
        &[
            "roster",
            never.to_str().unwrap(),
            other.to_str().unwrap(),
            broken.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.json is not a lab grade report"),
        "{stderr}"
    );
    let sheet = String::from_utf8_lossy(&output.stdout).replace(&berth_lab::class::machine(), "[MACHINE]");
    insta::assert_snapshot!(sheet, @r"
    trainee,machine,first-container,volumes,total,max
    Ada Lovelace,[MACHINE],0,,0,5
    Bob,bobs-laptop,5,3,8,15
    ");
}

#[test]
fn the_private_berthd_goes_where_it_is_told() {
    let state = TempDir::new("berth-lab-state");
    let roots = TempDir::new("berth-lab-private");
    let socket = format!("unix://{}/lab.sock", roots.path().display());
    let data = roots.path().join("data");
    let exec = roots.path().join("exec");
    let daemon = |action: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
        command
            .args(["--host", &socket, "daemon", action, "--data-root"])
            .arg(&data)
            .arg("--exec-root")
            .arg(&exec);
        trainee_env(&mut command, &state);
        ok(command.output().unwrap())
    };
    let started = daemon("start");
    assert!(
        started.starts_with(&format!("the private berthd answers at {socket}")),
        "{started}"
    );
    assert!(berth_lab::api::Api::new(&socket).unwrap().ping());
    assert!(daemon("status").starts_with("the private berthd runs (pid "));
    assert_eq!(daemon("stop"), "stopped the private berthd\n");
    assert_eq!(daemon("status"), "the private berthd is not running\n");
}

#[test]
fn auto_plays_the_reference_commands() {
    let daemon = daemon_for_first_container();
    let state = TempDir::new("berth-lab-state");
    let output = lab(&state, Some(&daemon), &["run", "first-container", "--auto"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("$ docker run hello-world\n\nHello from Docker!"),
        "{stdout}"
    );
    assert!(stdout.contains("✓ first-container: objectives 5/5"), "{stdout}");
    // The run stays for grading, like a trainee's.
    let grade = grade_json(&state, Some(&daemon), "first-container");
    assert_eq!(grade["score"], grade["max_score"]);
}
