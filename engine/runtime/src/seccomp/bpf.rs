//! A small classic-BPF assembler for seccomp filters.
//!
//! Only what a seccomp filter needs: load a word of `struct seccomp_data`, compare, AND, jump,
//! return. Arguments are 64-bit while BPF words are 32-bit, so each comparison looks at the high
//! word first and the low word second. A rule's conditions jump to its end ("fail") when one does
//! not hold; [`Rule::assemble`] fixes those jumps once the rule's length is known.

use libc::sock_filter;

/// `BPF_LD | BPF_W | BPF_ABS`: load a 32-bit word of `seccomp_data`.
const LD_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
const AND: u16 = 0x54;
/// `BPF_JMP | BPF_JA`: unconditional jump with a 32-bit offset.
const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub const JEQ: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K`.
const JGT: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K`.
const JGE: u16 = 0x35;
/// `BPF_RET | BPF_K`.
const RET: u16 = 0x06;

/// Offset of the syscall number in `seccomp_data`.
pub const OFFSET_NR: u32 = 0;
/// Offset of the audit architecture in `seccomp_data`.
pub const OFFSET_ARCH: u32 = 4;

/// Offsets of the low and high words of argument `index` (little-endian).
fn arg_offsets(index: usize) -> (u32, u32) {
    let low = 16 + 8 * index as u32;
    (low, low + 4)
}

/// A plain instruction.
pub fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A conditional jump.
pub fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Load a word of `seccomp_data`.
pub fn load(offset: u32) -> sock_filter {
    stmt(LD_ABS, offset)
}

/// Return an action.
pub fn ret(action: u32) -> sock_filter {
    stmt(RET, action)
}

/// Jump forward unconditionally.
pub fn ja(offset: u32) -> sock_filter {
    stmt(JA, offset)
}

/// Jump over `skip` instructions unless the accumulator equals `k`.
pub fn skip_unless_eq(k: u32, skip: usize) -> Vec<sock_filter> {
    if let Ok(skip) = u8::try_from(skip) {
        vec![jump(JEQ, k, 0, skip)]
    } else {
        vec![jump(JEQ, k, 1, 0), ja(skip as u32)]
    }
}

/// Jump over `skip` instructions unless the accumulator is `>= k`.
pub fn skip_unless_ge(k: u32, skip: u8) -> sock_filter {
    jump(JGE, k, 0, skip)
}

/// A comparison of one 64-bit syscall argument, as the OCI spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `arg != value`
    Ne(u64),
    /// `arg < value` (unsigned)
    Lt(u64),
    /// `arg <= value`
    Le(u64),
    /// `arg == value`
    Eq(u64),
    /// `arg >= value`
    Ge(u64),
    /// `arg > value`
    Gt(u64),
    /// `arg & mask == value`
    MaskedEq {
        /// The mask.
        mask: u64,
        /// The value after masking.
        value: u64,
    },
}

/// A jump target inside a rule: a relative offset, or the rule's end.
#[derive(Debug, Clone, Copy)]
enum Target {
    Off(u8),
    Fail,
}

#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u16,
    k: u32,
    jt: Target,
    jf: Target,
}

fn plain(code: u16, k: u32) -> Insn {
    Insn {
        code,
        k,
        jt: Target::Off(0),
        jf: Target::Off(0),
    }
}

fn cond(code: u16, k: u32, jt: Target, jf: Target) -> Insn {
    Insn { code, k, jt, jf }
}

fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}

fn lo(v: u64) -> u32 {
    v as u32
}

/// The instructions testing `arg[index] <compare>`; they fall through when it holds.
fn condition(index: usize, compare: Compare) -> Vec<Insn> {
    use Target::{Fail, Off};
    let (low, high) = arg_offsets(index);
    let ld_hi = plain(LD_ABS, high);
    let ld_lo = plain(LD_ABS, low);
    match compare {
        Compare::Eq(v) => vec![
            ld_hi,
            cond(JEQ, hi(v), Off(0), Fail),
            ld_lo,
            cond(JEQ, lo(v), Off(0), Fail),
        ],
        Compare::Ne(v) => vec![
            ld_hi,
            cond(JEQ, hi(v), Off(0), Off(2)),
            ld_lo,
            cond(JEQ, lo(v), Fail, Off(0)),
        ],
        Compare::MaskedEq { mask, value } => vec![
            ld_hi,
            plain(AND, hi(mask)),
            cond(JEQ, hi(value), Off(0), Fail),
            ld_lo,
            plain(AND, lo(mask)),
            cond(JEQ, lo(value), Off(0), Fail),
        ],
        Compare::Gt(v) | Compare::Ge(v) => {
            let last = if matches!(compare, Compare::Gt(_)) {
                JGT
            } else {
                JGE
            };
            vec![
                ld_hi,
                cond(JGT, hi(v), Off(3), Off(0)),
                cond(JEQ, hi(v), Off(0), Fail),
                ld_lo,
                cond(last, lo(v), Off(0), Fail),
            ]
        }
        Compare::Lt(v) | Compare::Le(v) => {
            let last = if matches!(compare, Compare::Lt(_)) {
                JGE
            } else {
                JGT
            };
            vec![
                ld_hi,
                cond(JGT, hi(v), Fail, Off(0)),
                cond(JEQ, hi(v), Off(0), Off(2)),
                ld_lo,
                cond(last, lo(v), Fail, Off(0)),
            ]
        }
    }
}

/// One rule for one syscall: all conditions must hold for the action to be returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `(argument index, comparison)`, all of which must hold.
    pub conditions: Vec<(usize, Compare)>,
    /// The `SECCOMP_RET_*` value returned when they do.
    pub action: u32,
}

impl Rule {
    /// The rule's code: its conditions, then `ret action`; a failed condition jumps past it.
    pub fn assemble(&self) -> Vec<sock_filter> {
        let mut insns: Vec<Insn> = self
            .conditions
            .iter()
            .flat_map(|(index, compare)| condition(*index, *compare))
            .collect();
        insns.push(plain(RET, self.action));
        let len = insns.len();
        insns
            .iter()
            .enumerate()
            .map(|(i, insn)| {
                let resolve = |t: Target| match t {
                    Target::Off(off) => off,
                    // Conditions are a handful of instructions each, far below 255.
                    Target::Fail => (len - i - 1) as u8,
                };
                jump(insn.code, insn.k, resolve(insn.jt), resolve(insn.jf))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unconditional_rule_is_one_return() {
        let rule = Rule {
            conditions: vec![],
            action: 0x7fff_0000,
        };
        let code = rule.assemble();
        assert_eq!(code.len(), 1);
        assert_eq!((code[0].code, code[0].k), (RET, 0x7fff_0000));
    }

    #[test]
    fn failed_conditions_jump_past_the_return() {
        let rule = Rule {
            conditions: vec![(0, Compare::Eq(8))],
            action: 0x7fff_0000,
        };
        let code = rule.assemble();
        // ld hi; jeq 0 (jf → end); ld lo; jeq 8 (jf → end); ret
        assert_eq!(code.len(), 5);
        assert_eq!(code[1].jf, 3);
        assert_eq!(code[3].jf, 1);
        assert_eq!(code[0].k, 20);
        assert_eq!(code[2].k, 16);
    }

    #[test]
    fn long_skips_use_an_unconditional_jump() {
        assert_eq!(skip_unless_eq(1, 10).len(), 1);
        let long = skip_unless_eq(1, 300);
        assert_eq!(long.len(), 2);
        assert_eq!((long[0].jt, long[0].jf, long[1].k), (1, 0, 300));
    }
}
