//! Small Dockerfiles to typed instructions, and the errors Docker 20.10 printed for each refused
//! one (after its "Error response from daemon: ").

use std::collections::HashMap;

use super::*;
use crate::build::parser::parse;
use crate::build::shell_words::{Lexer, env_map};

fn dockerfile(text: &str) -> Result<Dockerfile, String> {
    let parsed = parse(text.as_bytes()).map_err(|e| format!("failed to parse Dockerfile: {e}"))?;
    Dockerfile::from_nodes(&parsed.nodes).map_err(|e| e.to_string())
}

fn error(text: &str) -> String {
    dockerfile(text).unwrap_err()
}

/// The single instruction after `FROM busybox`.
fn only(instruction: &str) -> Instruction {
    let mut file = dockerfile(&format!("FROM busybox\n{instruction}\n"))
        .unwrap_or_else(|e| panic!("{instruction}: {e}"));
    assert_eq!(file.stages[0].commands.len(), 1);
    file.stages[0].commands.remove(0).instruction
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn errors_read_as_docker_printed_them() {
    let cases = [
        (
            "FROM busybox\n# c\nFOO bar\n",
            "dockerfile parse error line 3: unknown instruction: FOO",
        ),
        ("RUN true\n", "no build stage in current context"),
        (
            "FROM busybox AS 1bad\n",
            r#"dockerfile parse error line 1: invalid name for build stage: "1bad", name can't start with a number or contain symbols"#,
        ),
        (
            "FROM busybox foo\n",
            "dockerfile parse error line 1: FROM requires either one or three arguments",
        ),
        (
            "FROM\n",
            "dockerfile parse error line 1: FROM requires either one or three arguments",
        ),
        (
            "FROM --plat=x busybox\n",
            "dockerfile parse error line 1: Unknown flag: plat",
        ),
        (
            "FROM busybox\nONBUILD ONBUILD RUN x\n",
            "dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "FROM busybox\nonbuild from x\n",
            "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM busybox\nONBUILD maintainer me\n",
            "dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM busybox\nONBUILD\n",
            "dockerfile parse error line 2: ONBUILD requires at least one argument",
        ),
        (
            "FROM busybox\nCOPY a\n",
            "dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "FROM busybox\nCOPY --foo=1 a b\n",
            "dockerfile parse error line 2: Unknown flag: foo",
        ),
        (
            "FROM busybox\nCOPY --chown a b\n",
            "dockerfile parse error line 2: Missing a value on flag: chown",
        ),
        (
            "FROM busybox\nCOPY --chown=1 --chown=2 a b\n",
            "dockerfile parse error line 2: Duplicate flag specified: chown",
        ),
        (
            "FROM busybox\nRUN --foo=x true\n",
            "dockerfile parse error line 2: Unknown flag: foo",
        ),
        (
            "FROM busybox\nHEALTHCHECK --interval=0s CMD true\n",
            r#"dockerfile parse error line 2: Interval "interval" cannot be less than 1ms"#,
        ),
        (
            "FROM busybox\nHEALTHCHECK --interval=5x CMD true\n",
            r#"dockerfile parse error line 2: time: unknown unit "x" in duration "5x""#,
        ),
        (
            "FROM busybox\nHEALTHCHECK --retries=0 CMD true\n",
            "dockerfile parse error line 2: --retries must be at least 1 (not 0)",
        ),
        (
            "FROM busybox\nHEALTHCHECK --retries=abc CMD true\n",
            r#"dockerfile parse error line 2: strconv.ParseInt: parsing "abc": invalid syntax"#,
        ),
        (
            "FROM busybox\nHEALTHCHECK FOO true\n",
            r#"dockerfile parse error line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)"#,
        ),
        (
            "FROM busybox\nHEALTHCHECK NONE x\n",
            "dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments",
        ),
        (
            "FROM busybox\nHEALTHCHECK CMD\n",
            "dockerfile parse error line 2: Missing command after HEALTHCHECK CMD",
        ),
        (
            "FROM busybox\nHEALTHCHECK\n",
            "dockerfile parse error line 2: HEALTHCHECK requires at least one argument",
        ),
        (
            "FROM busybox\nENV =x\n",
            "dockerfile parse error line 2: ENV names can not be blank",
        ),
        (
            "FROM busybox\nENV\n",
            "dockerfile parse error line 2: ENV requires at least one argument",
        ),
        (
            "FROM busybox\nLABEL\n",
            "dockerfile parse error line 2: LABEL requires at least one argument",
        ),
        (
            "FROM busybox\nARG =x\n",
            "dockerfile parse error line 2: ARG names can not be blank",
        ),
        (
            "FROM busybox\nARG\n",
            "dockerfile parse error line 2: ARG requires at least one argument",
        ),
        (
            "FROM busybox\nSHELL sh -c\n",
            "dockerfile parse error line 2: SHELL requires the arguments to be in JSON form",
        ),
        (
            "FROM busybox\nSHELL []\n",
            "dockerfile parse error line 2: SHELL requires at least one argument",
        ),
        (
            "FROM busybox\nMAINTAINER\n",
            "dockerfile parse error line 2: MAINTAINER requires exactly one argument",
        ),
        (
            "FROM busybox\nWORKDIR\n",
            "dockerfile parse error line 2: WORKDIR requires exactly one argument",
        ),
        (
            "FROM busybox\nUSER\n",
            "dockerfile parse error line 2: USER requires exactly one argument",
        ),
        (
            "FROM busybox\nEXPOSE\n",
            "dockerfile parse error line 2: EXPOSE requires at least one argument",
        ),
        (
            "FROM busybox\nVOLUME [\"\"]\n",
            "dockerfile parse error line 2: VOLUME specified can not be an empty string",
        ),
        // Parser errors, which the classic builder prefixes with "failed to parse Dockerfile: ".
        (
            "FROM busybox\nENV a\n",
            "failed to parse Dockerfile: ENV must have two arguments",
        ),
        (
            "FROM busybox\nRUN [\"a\", 1]\n",
            "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "# just a comment\n\n",
            "failed to parse Dockerfile: file with no instructions",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text), expected, "{text:?}");
    }
}

#[test]
fn the_line_named_is_where_the_instruction_starts() {
    assert_eq!(
        error("FROM busybox\nRUN a \\\n  b\nCOPY \\\n a\n"),
        "dockerfile parse error line 4: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
}

#[test]
fn what_docker_accepts_that_looks_wrong() {
    // Each built fine with Docker 20.10.
    assert_eq!(only("WORKDIR a b"), Instruction::Workdir("a b".into()));
    assert_eq!(only("STOPSIGNAL a b"), Instruction::StopSignal("a b".into()));
    assert_eq!(
        only("CMD"),
        Instruction::Cmd(CommandLine {
            args: vec![],
            prepend_shell: true
        })
    );
    assert_eq!(only("USER  a b"), Instruction::User("a b".into()));
    // Flags Docker never reads (it built these three lines, the ONBUILD trigger failing only when fired).
    assert_eq!(
        only("STOPSIGNAL --x=1 TERM"),
        Instruction::StopSignal("TERM".into())
    );
    assert_eq!(
        only("HEALTHCHECK --nope=1 NONE"),
        Instruction::Healthcheck(HealthConfig {
            test: Some(strings(&["NONE"])),
            ..Default::default()
        })
    );
}

#[test]
fn stages_and_meta_args() {
    let file = dockerfile("ARG IMG=busybox\nARG TAG\nFROM --platform=linux/amd64 $IMG AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n").unwrap();
    assert_eq!(file.meta_args.len(), 2);
    assert_eq!(file.stages.len(), 2);
    let build = &file.stages[0];
    assert_eq!(
        build.from,
        From {
            base_name: "$IMG".into(),
            stage_name: Some("build".into()),
            platform: Some("linux/amd64".into())
        }
    );
    assert_eq!(build.source.code, "FROM --platform=linux/amd64 $IMG AS Build");
    assert_eq!(build.commands.len(), 1);
    assert_eq!(file.stage_index("BUILD"), Some(0));
    assert_eq!(file.stage_index("nope"), None);
    let Instruction::Copy(copy) = &file.stages[1].commands[0].instruction else {
        panic!()
    };
    assert_eq!(copy.from.as_deref(), Some("build"));
    assert_eq!(copy.sources, ["/out"]);
    assert_eq!(copy.dest, "/");
}

#[test]
fn stage_names_may_hold_dots_dashes_and_underscores() {
    // Docker 20.10 built `FROM busybox AS a.b-c_d` then `FROM A.B-C_D`.
    let file = dockerfile("FROM busybox AS a.b-c_d\nFROM A.B-C_D\n").unwrap();
    assert_eq!(file.stages[0].from.stage_name.as_deref(), Some("a.b-c_d"));
    assert_eq!(file.stage_index("A.B-C_D"), Some(0));
}

#[test]
fn command_lines_in_both_forms() {
    assert_eq!(
        only("RUN echo  hi"),
        Instruction::Run(CommandLine {
            args: strings(&["echo  hi"]),
            prepend_shell: true
        })
    );
    assert_eq!(
        only(r#"RUN ["echo", "hi"]"#),
        Instruction::Run(CommandLine {
            args: strings(&["echo", "hi"]),
            prepend_shell: false
        })
    );
    assert_eq!(
        only("ENTRYPOINT []"),
        Instruction::Entrypoint(CommandLine {
            args: vec![],
            prepend_shell: false
        })
    );
    assert_eq!(
        only(r#"SHELL ["/bin/bash", "-c"]"#),
        Instruction::Shell(strings(&["/bin/bash", "-c"]))
    );
}

#[test]
fn healthchecks_as_docker_stored_them() {
    // Docker 20.10 stored {"Test":["CMD","true","x"],"Interval":90000000000,"Timeout":1500000000,
    // "StartPeriod":100000000,"Retries":2} for this line.
    let health = only(
        r#"HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=100ms --retries=2 CMD ["true", "x"]"#,
    );
    assert_eq!(
        health,
        Instruction::Healthcheck(HealthConfig {
            test: Some(strings(&["CMD", "true", "x"])),
            interval: 90_000_000_000,
            timeout: 1_500_000_000,
            start_period: 100_000_000,
            retries: 2,
        })
    );
    // And {"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":5000000000,"Retries":3}.
    let shell = only("HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/ || exit 1");
    assert_eq!(
        shell,
        Instruction::Healthcheck(HealthConfig {
            test: Some(strings(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"])),
            interval: 5_000_000_000,
            retries: 3,
            ..Default::default()
        })
    );
    // `healthcheck none`: {"Test":["NONE"]}.
    assert_eq!(
        only("healthcheck none"),
        Instruction::Healthcheck(HealthConfig {
            test: Some(strings(&["NONE"])),
            ..Default::default()
        })
    );
    assert_eq!(
        error("FROM x\nHEALTHCHECK --retries=99999999999 CMD true"),
        r#"dockerfile parse error line 2: strconv.ParseInt: parsing "99999999999": value out of range"#
    );
}

#[test]
fn onbuild_keeps_the_trigger_text() {
    // Docker 20.10 stored ["copy --chown=2 x y","RUN echo \"a  b\""] as OnBuild for these lines.
    let file =
        dockerfile("FROM busybox\n  onbuild   copy --chown=2 x y\nONBUILD RUN echo \"a  b\"\n").unwrap();
    let triggers: Vec<&Instruction> = file.stages[0].commands.iter().map(|c| &c.instruction).collect();
    assert_eq!(
        triggers,
        [
            &Instruction::Onbuild("copy --chown=2 x y".into()),
            &Instruction::Onbuild("RUN echo \"a  b\"".into())
        ]
    );
    // A trigger is parsed again when it fires; an unknown one fails only then (Docker 20.10 built
    // `ONBUILD FOO x`).
    assert_eq!(only("ONBUILD FOO x"), Instruction::Onbuild("FOO x".into()));
    let fired = parse(b"FOO x").unwrap();
    assert_eq!(
        parse_instruction(&fired.nodes[0]).unwrap_err().to_string(),
        "unknown instruction: FOO"
    );
}

#[test]
fn expose_is_sorted_as_text() {
    // Docker 20.10's history said "EXPOSE 443/udp 80 9000" for `EXPOSE 9000 80 443/udp`.
    assert_eq!(
        only("EXPOSE 9000 80 443/udp"),
        Instruction::Expose(strings(&["443/udp", "80", "9000"]))
    );
}

#[test]
fn args_several_per_line() {
    assert_eq!(
        only(r#"ARG a=1 b c="x y""#),
        Instruction::Arg(vec![
            ArgDefinition {
                key: "a".into(),
                default: Some("1".into())
            },
            ArgDefinition {
                key: "b".into(),
                default: None
            },
            ArgDefinition {
                key: "c".into(),
                default: Some("\"x y\"".into())
            },
        ])
    );
}

/// Expand one line's ENV or LABEL with `env` and give its pairs as `key=value`.
fn expanded_pairs(line: &str, env: &HashMap<String, String>, escape: char) -> Vec<String> {
    let text = if escape == '`' {
        format!("# escape=`\nFROM busybox\n{line}")
    } else {
        format!("FROM busybox\n{line}")
    };
    let parsed = parse(text.as_bytes()).unwrap();
    let mut file = Dockerfile::from_nodes(&parsed.nodes).unwrap();
    let mut instruction = file.stages[0].commands.remove(0).instruction;
    instruction.expand(&Lexer::new(parsed.escape), env).unwrap();
    match instruction {
        Instruction::Env(pairs) | Instruction::Label(pairs) => pairs
            .into_iter()
            .map(|p| format!("{}={}", p.key, p.value))
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_and_label_quoting_as_docker_stored_it() {
    let none = HashMap::new();
    // Each expected list is the Config.Env (or Labels) Docker 20.10 stored for the same line.
    assert_eq!(
        expanded_pairs(
            r#"ENV a="hello world" b='single $x' c=esc\ aped d="dq \"in\" \$HOME \\ \x" e=$a f=${a}x"#,
            &none,
            '\\'
        ),
        [
            "a=hello world",
            "b=single $x",
            "c=esc aped",
            r#"d=dq "in" $HOME \ \x"#,
            "e=",
            "f=x"
        ]
    );
    assert_eq!(
        expanded_pairs("ENV old   value with   spaces  ", &none, '\\'),
        ["old=value with   spaces"]
    );
    assert_eq!(
        expanded_pairs(r#"ENV o2 "quoted old""#, &none, '\\'),
        ["o2=quoted old"]
    );
    assert_eq!(
        expanded_pairs(r#"LABEL "k 1"="v 1" k2=v\ 2 k3="$HOME""#, &none, '\\'),
        ["k 1=v 1", "k2=v 2", "k3="]
    );
    assert_eq!(expanded_pairs("ENV a b=c d", &none, '\\'), ["a=b=c d"]);
    let env = env_map(&["A=1", "B=2"]);
    assert_eq!(
        expanded_pairs(
            r"ENV C=${A:-x}${Z:-def}${A:+set}${Z:+nope} D=$A$B E=\$A F='$A' G=${A} H=${Z} I=$1 J=$ K=a$",
            &env,
            '\\'
        ),
        [
            "C=1defset",
            "D=12",
            "E=$A",
            "F=$A",
            "G=1",
            "H=",
            "I=",
            "J=$",
            "K=a$"
        ]
    );
    // Names expand too: after `ENV K=name`, Docker stored name=value and name2=x y.
    let named = env_map(&["K=name"]);
    assert_eq!(
        expanded_pairs(r#"ENV $K=value ${K}2="x y""#, &named, '\\'),
        ["name=value", "name2=x y"]
    );
    // A comment and a blank line inside a continuation: Docker stored a=1, b=2, c=3.
    assert_eq!(
        expanded_pairs(
            "ENV a=1 \\\n    # indented comment\n  b=2 \\\n   \n  c=3",
            &none,
            '\\'
        ),
        ["a=1", "b=2", "c=3"]
    );
    // With `# escape=``: ENV a=x`$y b="c`"d" `<newline> c=C stored a=x$y, b=c"d, c=C.
    let parsed = parse(b"# escape=`\nFROM busybox\nENV a=x`$y b=\"c`\"d\" `\n    c=C\n").unwrap();
    let mut file = Dockerfile::from_nodes(&parsed.nodes).unwrap();
    let mut env_line = file.stages[0].commands.remove(0).instruction;
    env_line.expand(&Lexer::new(parsed.escape), &none).unwrap();
    let Instruction::Env(pairs) = env_line else {
        panic!()
    };
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|p| format!("{}={}", p.key, p.value))
        .collect();
    assert_eq!(pairs, ["a=x$y", "b=c\"d", "c=C"]);
}

#[test]
fn the_instructions_that_expand() {
    // Docker 20.10, after `ENV P="80 443/udp"`: WORKDIR /a/$P gave "/a/80 443/udp", USER "u:g" gave
    // "u:g", VOLUME ["/v1", "$P"] gave "80 443/udp", EXPOSE $P 8080 exposed 80, 443/udp and 8080.
    let env = env_map(&["P=80 443/udp", "U=app", "S=SIGTERM"]);
    let lexer = Lexer::new('\\');
    let expand = |line: &str| {
        let mut instruction = only(line);
        instruction.expand(&lexer, &env).unwrap();
        instruction
    };
    assert_eq!(
        expand("WORKDIR /a/$P"),
        Instruction::Workdir("/a/80 443/udp".into())
    );
    assert_eq!(expand(r#"USER "u:g""#), Instruction::User("u:g".into()));
    assert_eq!(
        expand(r#"VOLUME ["/v1", "$P"]"#),
        Instruction::Volume(strings(&["/v1", "80 443/udp"]))
    );
    assert_eq!(
        expand("EXPOSE $P 8080"),
        Instruction::Expose(strings(&["80", "443/udp", "8080"]))
    );
    assert_eq!(expand("STOPSIGNAL $S"), Instruction::StopSignal("SIGTERM".into()));
    let Instruction::Copy(copy) = expand("COPY --from=$U --chown=$U:$U src/$U /home/$U/") else {
        panic!()
    };
    assert_eq!(
        (copy.from.as_deref(), copy.chown.as_deref()),
        (Some("$U"), Some("app:app"))
    );
    assert_eq!(
        (copy.sources, copy.dest),
        (strings(&["src/app"]), "/home/app/".to_owned())
    );
    // These never expand.
    for line in [
        "RUN echo $U",
        "CMD echo $U",
        r#"ENTRYPOINT ["$U"]"#,
        "ONBUILD RUN $U",
        "MAINTAINER $U",
        "HEALTHCHECK CMD $U",
    ] {
        let instruction = only(line);
        assert!(!instruction.expands(), "{line}");
        assert_eq!(expand(line), instruction, "{line}");
    }
    let error = only("WORKDIR ${U").expand_clone(&lexer, &env).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"failed to process "${U": missing ':' in substitution"#
    );
}

#[test]
fn from_expands_with_meta_args() {
    // Docker 20.10 built `ARG IMG=busy`, `ARG TAG`, `FROM ${IMG}box${TAG:+:$TAG}` from busybox.
    let file = dockerfile("ARG IMG=busy\nARG TAG\nFROM ${IMG}box${TAG:+:$TAG}\n").unwrap();
    let meta = env_map(&["IMG=busy"]);
    let (name, platform) = file.stages[0].from.expanded(&Lexer::new('\\'), &meta).unwrap();
    assert_eq!((name.as_str(), platform), ("busybox", None));
}

impl Instruction {
    /// `expand` on a copy, for asserting on errors.
    fn expand_clone(
        &self,
        lexer: &Lexer,
        env: &HashMap<String, String>,
    ) -> Result<Instruction, crate::build::shell_words::ExpansionError> {
        let mut copy = self.clone();
        copy.expand(lexer, env)?;
        Ok(copy)
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_dockerfile_is_typed_or_refused(
            lines in proptest::collection::vec(
                "(FROM|RUN|CMD|ENV|LABEL|ARG|COPY|ADD|ONBUILD|HEALTHCHECK|EXPOSE|VOLUME|USER|WORKDIR|SHELL|STOPSIGNAL|MAINTAINER|ENTRYPOINT|onbuild onbuild|FOO)( --[a-z-]{1,12}(=[a-z0-9]{0,3})?)?( [a-zA-Z0-9=\"'$\\[\\]{}:,-]{0,10}){0,4}",
                1..8,
            )
        ) {
            let text = lines.join("\n");
            if let Ok(parsed) = parse(text.as_bytes()) {
                if let Ok(mut file) = Dockerfile::from_nodes(&parsed.nodes) {
                    let lexer = Lexer::new(parsed.escape);
                    let env = env_map(&["a=1"]);
                    for stage in &mut file.stages {
                        let _ = stage.from.expanded(&lexer, &env);
                        for command in &mut stage.commands {
                            let _ = command.instruction.expand(&lexer, &env);
                        }
                    }
                }
            }
        }
    }
}
