//! Seccomp: the spec's `linux.seccomp` compiled to a BPF program and loaded into the process.
//!
//! Why not a crate: seccompiler (rust-vmm) gives one filter a single match action, while an OCI
//! profile mixes actions and errno values per syscall (Docker's returns ENOSYS for clone3 and
//! EPERM by default); libseccomp needs its C headers and library at build time, which this
//! project's machines do not carry. The compiler below is small: per architecture, a chain of
//! "is it syscall N?" tests, each followed by that syscall's rules in the profile's order.
//! Syscall numbers come from the `syscalls` crate's tables.

/// The BPF assembler.
pub mod bpf;

use std::collections::BTreeMap;
use std::str::FromStr;

use libc::sock_filter;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use bpf::{Compare, Rule};

/// Errors while building or loading a seccomp filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// the seccomp action is not supported
    #[error("seccomp action {0} is not supported")]
    Unsupported(&'static str),
    /// a seccomp rule names an argument past the sixth
    #[error("seccomp rule for {0} compares argument {1}, but syscalls have 6")]
    BadArgument(String, usize),
    /// the seccomp filter is too long
    #[error("the seccomp filter has {0} instructions, more than the kernel's 4096")]
    TooLong(usize),
    /// cannot load the seccomp filter
    #[error("cannot load the seccomp filter: {0}")]
    Load(nix::Error),
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 syscalls run under the x86_64 audit arch with this bit set in their number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const BPF_MAXINSNS: usize = 4096;

const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

/// One architecture's syscall table.
struct ArchTable {
    oci: Arch,
    audit: u32,
    name: &'static str,
    lookup: fn(&str) -> Option<u32>,
}

fn native_lookup(name: &str) -> Option<u32> {
    syscalls::Sysno::from_str(name).ok().map(|s| s.id() as u32)
}

#[cfg(target_arch = "x86_64")]
fn i386_lookup(name: &str) -> Option<u32> {
    syscalls::x86::Sysno::from_str(name).ok().map(|s| s.id() as u32)
}

#[cfg(target_arch = "x86_64")]
const NATIVE: ArchTable = ArchTable {
    oci: Arch::ScmpArchX86_64,
    audit: AUDIT_ARCH_X86_64,
    name: "x86_64",
    lookup: native_lookup,
};

#[cfg(target_arch = "aarch64")]
const NATIVE: ArchTable = ArchTable {
    oci: Arch::ScmpArchAarch64,
    audit: 0xc000_00b7,
    name: "aarch64",
    lookup: native_lookup,
};

/// Every architecture we can filter for: the native one first, then those whose syscalls
/// this machine may also run (i386 on x86_64).
fn all_tables() -> Vec<ArchTable> {
    #[allow(unused_mut)]
    let mut out = vec![NATIVE];
    #[cfg(target_arch = "x86_64")]
    out.push(ArchTable {
        oci: Arch::ScmpArchX86,
        audit: AUDIT_ARCH_I386,
        name: "x86",
        lookup: i386_lookup,
    });
    out
}

/// The architectures we filter for: the native one always, the others when the profile lists
/// them.
fn tables(seccomp: &LinuxSeccomp) -> Vec<ArchTable> {
    let listed = |arch: Arch| seccomp.architectures().iter().flatten().any(|a| *a == arch);
    all_tables()
        .into_iter()
        .enumerate()
        .filter(|(i, table)| *i == 0 || listed(table.oci))
        .map(|(_, table)| table)
        .collect()
}

/// The architectures a filter can have syscall rules for (others listed in a profile are left
/// out; x32 syscalls get the default action or are killed).
pub fn architectures() -> Vec<Arch> {
    all_tables().iter().map(|t| t.oci).collect()
}

/// Every action of the spec; [`supported_actions`] keeps those the compiler takes.
const ACTIONS: [LinuxSeccompAction; 9] = [
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActTrap,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActNotify,
];

/// The actions a profile may use.
pub fn supported_actions() -> Vec<LinuxSeccompAction> {
    ACTIONS
        .into_iter()
        .filter(|a| action_value(*a, 0).is_ok())
        .collect()
}

/// The argument comparisons a rule may use: all of the spec's (see `compare`).
pub const OPERATORS: [LinuxSeccompOperator; 7] = [
    LinuxSeccompOperator::ScmpCmpNe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
];

/// The `seccomp(2)` flags a profile may ask for, with their values.
pub const FLAGS: [(LinuxSeccompFilterFlag, u32); 3] = [
    (LinuxSeccompFilterFlag::SeccompFilterFlagTsync, 1),
    (LinuxSeccompFilterFlag::SeccompFilterFlagLog, 2),
    (LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow, 4),
];

/// The `SECCOMP_RET_*` value of an OCI action.
fn action_value(action: LinuxSeccompAction, errno: u32) -> Result<u32, SeccompError> {
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => RET_ERRNO | (errno & 0xffff),
        LinuxSeccompAction::ScmpActTrace => RET_TRACE | (errno & 0xffff),
        LinuxSeccompAction::ScmpActLog => RET_LOG,
        LinuxSeccompAction::ScmpActAllow => RET_ALLOW,
        LinuxSeccompAction::ScmpActNotify => return Err(SeccompError::Unsupported("SCMP_ACT_NOTIFY")),
    })
}

fn compare(op: LinuxSeccompOperator, value: u64, value_two: u64) -> Compare {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => Compare::Ne(value),
        LinuxSeccompOperator::ScmpCmpLt => Compare::Lt(value),
        LinuxSeccompOperator::ScmpCmpLe => Compare::Le(value),
        LinuxSeccompOperator::ScmpCmpEq => Compare::Eq(value),
        LinuxSeccompOperator::ScmpCmpGe => Compare::Ge(value),
        LinuxSeccompOperator::ScmpCmpGt => Compare::Gt(value),
        LinuxSeccompOperator::ScmpCmpMaskedEq => Compare::MaskedEq {
            mask: value,
            value: value_two,
        },
    }
}

/// A compiled filter and what it says, for the explain event.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The BPF program.
    pub program: Vec<sock_filter>,
    /// `seccomp(2)` flags from the profile.
    pub flags: u32,
    /// How many syscalls have their own rules.
    pub syscalls: usize,
    /// The default action, as the profile names it.
    pub default_action: String,
}

/// Compile an OCI seccomp section.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let default_errno = seccomp.default_errno_ret().unwrap_or(libc::EPERM as u32);
    let default = action_value(seccomp.default_action(), default_errno)?;
    let x32_listed = seccomp
        .architectures()
        .iter()
        .flatten()
        .any(|a| *a == Arch::ScmpArchX32);

    let mut program = Vec::new();
    let sections: Vec<(u32, Vec<sock_filter>, usize)> = tables(seccomp)
        .iter()
        .map(|table| {
            let (code, count) = arch_section(seccomp, table, default, x32_listed)?;
            Ok((table.audit, code, count))
        })
        .collect::<Result<_, SeccompError>>()?;

    // Dispatch on the architecture: `jeq arch; ja section` per architecture, then kill any
    // other architecture, as libseccomp does; the sections follow.
    program.push(bpf::load(bpf::OFFSET_ARCH));
    let mut section_start = 2 + 2 * sections.len();
    for (i, (audit, code, _)) in sections.iter().enumerate() {
        let ja_index = 2 + 2 * i;
        program.push(bpf::jump(bpf::JEQ, *audit, 0, 1));
        program.push(bpf::ja((section_start - ja_index - 1) as u32));
        section_start += code.len();
    }
    program.push(bpf::ret(RET_KILL_PROCESS));
    let mut syscalls = 0;
    for (_, code, count) in &sections {
        program.extend_from_slice(code);
        syscalls = syscalls.max(*count);
    }
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLong(program.len()));
    }

    let flags = seccomp
        .flags()
        .iter()
        .flatten()
        .map(|f| {
            FLAGS
                .iter()
                .find(|(flag, _)| flag == f)
                .map_or(0, |&(_, value)| value)
        })
        .fold(0, |acc, f| acc | f);
    Ok(Filter {
        program,
        flags,
        syscalls,
        default_action: seccomp.default_action().to_string(),
    })
}

/// One architecture's chain of syscall tests; returns the code and how many syscalls it has.
fn arch_section(
    seccomp: &LinuxSeccomp,
    table: &ArchTable,
    default: u32,
    x32_listed: bool,
) -> Result<(Vec<sock_filter>, usize), SeccompError> {
    // Rules per syscall number, conditional ones before unconditional ones (which would
    // otherwise hide them), each group in the profile's order.
    let mut rules: BTreeMap<u32, (Vec<Rule>, Vec<Rule>)> = BTreeMap::new();
    for syscall in seccomp.syscalls().iter().flatten() {
        let errno = syscall.errno_ret().unwrap_or(libc::EPERM as u32);
        let action = action_value(syscall.action(), errno)?;
        let mut conditions = Vec::new();
        for arg in syscall.args().iter().flatten() {
            if arg.index() > 5 {
                return Err(SeccompError::BadArgument(syscall.names().join(","), arg.index()));
            }
            conditions.push((
                arg.index(),
                compare(arg.op(), arg.value(), arg.value_two().unwrap_or(0)),
            ));
        }
        for name in syscall.names() {
            let Some(nr) = (table.lookup)(name) else {
                tracing::debug!("seccomp: no syscall {name} on {}", table.name);
                continue;
            };
            let entry = rules.entry(nr).or_default();
            let rule = Rule {
                conditions: conditions.clone(),
                action,
            };
            if conditions.is_empty() {
                entry.1.push(rule);
            } else {
                entry.0.push(rule);
            }
        }
    }

    let mut code = vec![bpf::load(bpf::OFFSET_NR)];
    if table.audit == AUDIT_ARCH_X86_64 {
        // x32 syscalls share the x86_64 audit arch. Without tables of their own they get the
        // default action, unless that would let them past a deny-list profile.
        let x32_action = if x32_listed && default != RET_ALLOW && default != RET_LOG {
            default
        } else {
            RET_KILL_PROCESS
        };
        code.push(bpf::skip_unless_ge(X32_SYSCALL_BIT, 1));
        code.push(bpf::ret(x32_action));
    }
    let mut count = 0;
    for (nr, (conditional, unconditional)) in rules {
        let mut block = Vec::new();
        for rule in conditional.iter().chain(unconditional.iter().take(1)) {
            block.extend(rule.assemble());
        }
        if unconditional.is_empty() {
            block.push(bpf::ret(default));
        }
        // A syscall whose only rule repeats the default needs no test of its own.
        if block.len() == 1 && block[0].k == default {
            continue;
        }
        count += 1;
        code.extend(bpf::skip_unless_eq(nr, block.len()));
        code.extend(block);
    }
    code.push(bpf::ret(default));
    Ok((code, count))
}

/// Load a compiled filter into this process (and, with TSYNC, its threads).
pub fn load(filter: &Filter) -> Result<(), SeccompError> {
    let prog = libc::sock_fprog {
        len: filter.program.len() as u16,
        filter: filter.program.as_ptr() as *mut sock_filter,
    };
    // SAFETY: `prog` points at `filter.program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            filter.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(SeccompError::Load(nix::Error::last()));
    }
    crate::explain!(
        "loaded a seccomp filter of {} instructions: {} syscalls with rules, default action {}",
        filter.program.len(),
        filter.syscalls,
        filter.default_action
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("seccomp profile")
    }

    /// Run `probe` in a forked child with `filter` loaded; the child's exit code is the result.
    /// The child only makes raw syscalls (no allocation), so forking from the test harness's
    /// threads is safe.
    fn in_child(filter: &Filter, probe: fn() -> i32) -> i32 {
        // SAFETY: the child calls only async-signal-safe functions (prctl, syscall, _exit).
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain prctl with integer arguments.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let prog = libc::sock_fprog {
                    len: filter.program.len() as u16,
                    filter: filter.program.as_ptr() as *mut sock_filter,
                };
                // SAFETY: `prog` points at the live program; the kernel copies it.
                let rc = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) };
                let code = if rc != 0 { 100 } else { probe() };
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                match nix::sys::wait::waitpid(child, None).expect("waitpid") {
                    nix::sys::wait::WaitStatus::Exited(_, code) => code,
                    other => panic!("probe child ended with {other:?}"),
                }
            }
        }
    }

    fn errno_of(rc: libc::c_long) -> i32 {
        if rc < 0 {
            // SAFETY: reading errno right after the failed call, in the same thread.
            unsafe { *libc::__errno_location() }
        } else {
            0
        }
    }

    #[test]
    fn unconditional_rules_and_the_default_apply() {
        let filter = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW",
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":42}]}"#,
        ))
        .expect("compile");
        assert_eq!(
            in_child(&filter, || errno_of(
                // SAFETY: getppid takes no arguments.
                unsafe { libc::syscall(libc::SYS_getppid) }
            )),
            42
        );
        assert_eq!(
            in_child(&filter, || errno_of(
                // SAFETY: getpid takes no arguments.
                unsafe { libc::syscall(libc::SYS_getpid) }
            )),
            0
        );
    }

    #[test]
    fn argument_comparisons_use_all_64_bits() {
        // dup(fd) fails with EBADF (9) for a bad fd; the filter answers 77 when fd == 1<<32 | 5,
        // and 78 when fd > 5000 (the high word counts: 1<<32 | 5 is above 5000).
        let filter = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW",
                "syscalls":[
                  {"names":["dup"],"action":"SCMP_ACT_ERRNO","errnoRet":77,
                   "args":[{"index":0,"value":4294967301,"op":"SCMP_CMP_EQ"}]},
                  {"names":["dup"],"action":"SCMP_ACT_ERRNO","errnoRet":78,
                   "args":[{"index":0,"value":5000,"op":"SCMP_CMP_GT"}]},
                  {"names":["dup"],"action":"SCMP_ACT_ERRNO","errnoRet":79,
                   "args":[{"index":0,"value":4095,"valueTwo":3000,"op":"SCMP_CMP_MASKED_EQ"}]}
                ]}"#,
        ))
        .expect("compile");
        assert_eq!(
            // SAFETY: dup of a bad fd only fails.
            in_child(&filter, || errno_of(unsafe {
                libc::syscall(libc::SYS_dup, 0x1_0000_0005u64)
            })),
            77
        );
        assert_eq!(
            // SAFETY: dup of a bad fd only fails.
            in_child(&filter, || errno_of(unsafe {
                libc::syscall(libc::SYS_dup, 0x1_0000_0006u64)
            })),
            78
        );
        assert_eq!(
            // SAFETY: dup of a bad fd only fails.
            in_child(&filter, || errno_of(unsafe {
                libc::syscall(libc::SYS_dup, 4000u64)
            })),
            9
        );
        assert_eq!(
            // 3000 & 4095 == 3000, and 3000 is not above 5000.
            // SAFETY: dup of a bad fd only fails.
            in_child(&filter, || errno_of(unsafe {
                libc::syscall(libc::SYS_dup, 3000u64)
            })),
            79
        );
    }

    #[test]
    fn deny_by_default_with_an_allow_list() {
        let filter = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "syscalls":[{"names":["exit_group","exit","getpid","no_such_syscall"],
                             "action":"SCMP_ACT_ALLOW"},
                            {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                             "args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        ))
        .expect("compile");
        assert_eq!(filter.syscalls, 4);
        assert_eq!(
            // SAFETY: getppid takes no arguments.
            in_child(&filter, || errno_of(unsafe { libc::syscall(libc::SYS_getppid) })),
            libc::EPERM
        );
        assert_eq!(
            // SAFETY: querying the personality (0xffffffff) changes nothing; it is refused here.
            in_child(&filter, || errno_of(unsafe {
                libc::syscall(libc::SYS_personality, 0xffff_ffffu64)
            })),
            libc::EPERM
        );
        assert_eq!(
            // SAFETY: personality(PER_LINUX32 = 8) only changes this short-lived child.
            in_child(&filter, || errno_of(unsafe {
                libc::syscall(libc::SYS_personality, 8u64)
            })),
            0
        );
    }

    #[test]
    fn notify_is_refused() {
        let err = compile(&profile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#)).expect_err("notify");
        assert!(err.to_string().contains("SCMP_ACT_NOTIFY"));
    }
}
