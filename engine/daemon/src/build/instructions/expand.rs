//! Which instructions expand variables, and how (the classic builder's `Expand` methods and its
//! EXPOSE and FROM special cases).
//!
//! ENV (names and values), LABEL, ADD and COPY (sources, destination, `--chown`; not `--from`),
//! WORKDIR, USER, VOLUME, STOPSIGNAL and ARG (names and defaults) expand each word to one word
//! with the stage's environment and build args; EXPOSE expands each word to words (`$PORTS` with
//! `PORTS="80 443"` exposes two). FROM expands with the ARGs declared before the first FROM
//! only ([`From::expanded`]). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD
//! never expand: their variables are the shell's business, or the trigger's when it fires.

use std::collections::HashMap;

use super::{From, Instruction};
use crate::build::shell_words::{ExpansionError, Lexer};

impl Instruction {
    /// Whether the dispatcher expands this instruction's words before running it.
    pub fn expands(&self) -> bool {
        matches!(
            self,
            Instruction::Env(_)
                | Instruction::Label(_)
                | Instruction::Add(_)
                | Instruction::Copy(_)
                | Instruction::Workdir(_)
                | Instruction::User(_)
                | Instruction::Volume(_)
                | Instruction::StopSignal(_)
                | Instruction::Arg(_)
                | Instruction::Expose(_)
        )
    }

    /// Expand the words of an instruction that [expands](Self::expands) with `env` (the stage's
    /// environment and the build args in effect, as `KEY=value` made into a map by
    /// [`crate::build::shell_words::env_map`]); leave the others as they are.
    pub fn expand(&mut self, lexer: &Lexer, env: &HashMap<String, String>) -> Result<(), ExpansionError> {
        let word = |text: &mut String| -> Result<(), ExpansionError> {
            *text = lexer.process_word(text, env)?;
            Ok(())
        };
        match self {
            Instruction::Env(pairs) | Instruction::Label(pairs) => {
                for pair in pairs {
                    word(&mut pair.key)?;
                    word(&mut pair.value)?;
                }
            }
            Instruction::Add(copy) | Instruction::Copy(copy) => {
                if let Some(chown) = &mut copy.chown {
                    word(chown)?;
                }
                copy.sources.iter_mut().try_for_each(word)?;
                word(&mut copy.dest)?;
            }
            Instruction::Workdir(text) | Instruction::User(text) | Instruction::StopSignal(text) => {
                word(text)?
            }
            Instruction::Volume(volumes) => volumes.iter_mut().try_for_each(word)?,
            Instruction::Arg(definitions) => {
                for definition in definitions {
                    word(&mut definition.key)?;
                    if let Some(default) = &mut definition.default {
                        word(default)?;
                    }
                }
            }
            Instruction::Expose(ports) => {
                let mut expanded = Vec::with_capacity(ports.len());
                for port in ports.iter() {
                    expanded.extend(lexer.process_words(port, env)?);
                }
                *ports = expanded;
            }
            Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::From(_)
            | Instruction::Healthcheck(_)
            | Instruction::Maintainer(_)
            | Instruction::Onbuild(_)
            | Instruction::Run(_)
            | Instruction::Shell(_) => {}
        }
        Ok(())
    }
}

impl From {
    /// The image name and platform with the meta ARGs (those before the first FROM, with their
    /// `--build-arg` values) expanded. Docker then refuses an empty name itself.
    pub fn expanded(
        &self,
        lexer: &Lexer,
        meta_args: &HashMap<String, String>,
    ) -> Result<(String, Option<String>), ExpansionError> {
        let base_name = lexer.process_word(&self.base_name, meta_args)?;
        let platform = self
            .platform
            .as_deref()
            .map(|platform| lexer.process_word(platform, meta_args))
            .transpose()?;
        Ok((base_name, platform))
    }
}
