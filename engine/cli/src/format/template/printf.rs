//! Go's fmt for templates: `print`, `println`, `printf` and `strconv.Quote`.

use crate::format::value::{NilKind, Value, go_exponent, go_float_v};

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        out.push_str(&print_v(arg));
    }
    out
}

/// Go's `fmt.Sprintln`: spaces between all operands and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out: Vec<String> = args.iter().map(print_v).collect::<Vec<_>>();
    out.push(String::new());
    let mut line = out[..out.len() - 1].join(" ");
    line.push('\n');
    line
}

/// `%v` of a value handed to fmt: a missing value arrives as a nil interface.
fn print_v(value: &Value) -> String {
    match value {
        Value::Missing => "<nil>".to_string(),
        other => other.to_string(),
    }
}

/// Go's `strconv.Quote`, shared with the daemon.
pub use berth_api::go_quote::go_quote;

/// Go's `%.{precision}g` of a float (what `docker/go-units` uses for sizes).
pub fn format_g(f: f64, precision: usize) -> String {
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, f);
    let exp: i32 = scientific
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let (mantissa, exp_text) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let mantissa = trim_fraction_zeros(mantissa);
        go_exponent(&format!("{mantissa}e{exp_text}"))
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim_fraction_zeros(&format!("{f:.decimals$}")).to_string()
    }
}

fn trim_fraction_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

/// One `%…` directive.
#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
    verb: char,
}

/// Go's `fmt.Sprintf` for the verbs templates use, with Go's `%!v(…)` complaints.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars, args, &mut next_arg);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(read_number(&mut chars, args, &mut next_arg).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        spec.verb = verb;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        out.push_str(&format_one(spec, arg));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", a.go_type(), print_v(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// A width or precision: digits, or `*` taking an int argument.
fn read_number(
    chars: &mut std::iter::Peekable<std::str::Chars>,
    args: &[Value],
    next_arg: &mut usize,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let n = args.get(*next_arg).and_then(Value::as_int);
        *next_arg += 1;
        return n.and_then(|n| usize::try_from(n).ok());
    }
    let mut digits = String::new();
    while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
        digits.push(d);
        chars.next();
    }
    digits.parse().ok()
}

fn bad_verb(verb: char, arg: &Value) -> String {
    match arg {
        Value::Missing | Value::Nil(NilKind::Pointer) => format!("%!{verb}(<nil>)"),
        other => format!("%!{verb}({}={})", other.go_type(), print_v(other)),
    }
}

/// Format one argument and pad it to the width.
fn format_one(spec: Spec, arg: &Value) -> String {
    if let Value::Array(items) = arg
        && !matches!(spec.verb, 'v' | 'T')
    {
        // Go applies the verb to each element of a slice.
        let inner: Vec<String> = items.iter().map(|item| format_one(spec, item)).collect();
        return format!("[{}]", inner.join(" "));
    }
    let body = match format_body(spec, arg) {
        Ok(body) => body,
        Err(bad) => return bad,
    };
    pad(spec, body)
}

fn format_body(spec: Spec, arg: &Value) -> Result<String, String> {
    let verb = spec.verb;
    let int = arg.as_int();
    let float = match arg {
        Value::Number(n) if n.is_f64() => n.as_f64(),
        _ => None,
    };
    let signed = |magnitude: String, negative: bool| -> String {
        let sign = if negative {
            "-"
        } else if spec.plus {
            "+"
        } else if spec.space {
            " "
        } else {
            ""
        };
        format!("{sign}{magnitude}")
    };
    Ok(match (verb, arg) {
        ('v', Value::Number(_)) if float.is_some() => {
            let f = float.unwrap_or_default();
            signed(go_float_v(f.abs()), f < 0.0)
        }
        ('v', Value::Number(_)) if int.is_some() => {
            let i = int.unwrap_or_default();
            signed(i.unsigned_abs().to_string(), i < 0)
        }
        ('v', other) => {
            let text = print_v(other);
            match (spec.precision, other) {
                (Some(p), Value::String(_)) => text.chars().take(p).collect(),
                _ => text,
            }
        }
        ('T', other) => other.go_type(),
        ('t', Value::Bool(b)) => b.to_string(),
        ('s', Value::String(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('s', Value::Object(_) | Value::Nil(NilKind::Slice | NilKind::Map)) => arg.to_string(),
        ('q', Value::String(s)) => go_quote(s),
        ('q', _) if int.is_some() => {
            let c = int
                .and_then(|i| u32::try_from(i).ok())
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            format!("'{}'", go_quote(&c.to_string()).trim_matches('"'))
        }
        ('x' | 'X', Value::String(s)) => {
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            if verb == 'X' { hex.to_uppercase() } else { hex }
        }
        ('d' | 'x' | 'X' | 'o' | 'b' | 'c' | 'U', _) if int.is_some() => {
            let i = int.unwrap_or_default();
            let magnitude = i.unsigned_abs();
            match verb {
                'd' => signed(magnitude.to_string(), i < 0),
                'x' => signed(
                    format!("{}{magnitude:x}", if spec.sharp { "0x" } else { "" }),
                    i < 0,
                ),
                'X' => signed(
                    format!("{}{magnitude:X}", if spec.sharp { "0X" } else { "" }),
                    i < 0,
                ),
                'o' => signed(
                    format!("{}{magnitude:o}", if spec.sharp { "0" } else { "" }),
                    i < 0,
                ),
                'b' => signed(format!("{magnitude:b}"), i < 0),
                'c' => u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}')
                    .to_string(),
                _ => format!("U+{magnitude:04X}"),
            }
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', _) if float.is_some() => {
            let f = float.unwrap_or_default();
            let magnitude = f.abs();
            let text = match verb {
                'e' | 'E' => go_exponent(&format!("{:.*e}", spec.precision.unwrap_or(6), magnitude)),
                'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), magnitude),
                _ => match spec.precision {
                    Some(p) => format_g(magnitude, p),
                    None => go_float_v(magnitude),
                },
            };
            let text = if verb.is_uppercase() {
                text.to_uppercase()
            } else {
                text
            };
            signed(text, f < 0.0)
        }
        _ => return Err(bad_verb(verb, arg)),
    })
}

fn pad(spec: Spec, body: String) -> String {
    let Some(width) = spec.width else {
        return body;
    };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero {
        // Zeros go after the sign.
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &body[1..]),
            _ => (String::new(), body.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn printf_matches_go() {
        let args = [s("/fmt-c1"), Value::from(13061), s("overlay2"), s("/fmt-c1")];
        assert_eq!(
            sprintf("%q %5d|%-6s|%x", &args),
            r#""/fmt-c1" 13061|overlay2|2f666d742d6331"#
        );
        assert_eq!(
            sprintf("%05d|%+d|%T", &[Value::from(-42), Value::from(7), s("x")]),
            "-0042|+7|string"
        );
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s %s", &[s("x")]), "x %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("x"), Value::from(1)]), "x%!(EXTRA int=1)");
        assert_eq!(
            sprintf(
                "%.3s|%6.2f%%",
                &[
                    s("abcdef"),
                    Value::Number(serde_json::Number::from_f64(3.14659).unwrap())
                ]
            ),
            "abc|  3.15%"
        );
    }

    #[test]
    fn print_spaces_like_go() {
        assert_eq!(
            sprint(&[
                Value::from(13061),
                Value::from(3),
                s("x"),
                Value::from(4),
                Value::from(5)
            ]),
            "13061 3x4 5"
        );
        assert_eq!(sprintln(&[s("/fmt-c1"), Value::from(13061)]), "/fmt-c1 13061\n");
    }

    #[test]
    fn quote_escapes_like_strconv() {
        assert_eq!(go_quote(r#"sh -c 'echo "<hi>"'"#), r#""sh -c 'echo \"<hi>\"'""#);
        assert_eq!(go_quote("a\tb\u{1}…"), r#""a\tb\x01…""#);
    }

    #[test]
    fn g_format_like_go() {
        assert_eq!(format_g(1.982284, 3), "1.98");
        assert_eq!(format_g(4.86, 3), "4.86");
        assert_eq!(format_g(1.0, 3), "1");
        assert_eq!(format_g(999.9, 3), "1e+03");
        assert_eq!(format_g(12.5, 3), "12.5");
        assert_eq!(format_g(100.0, 4), "100");
    }
}
