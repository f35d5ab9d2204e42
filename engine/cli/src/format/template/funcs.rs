//! The functions a template can call: Go's builtins (`index`, `len`, `printf`, `eq`, …) and
//! Docker's (`json`, `join`, `split`, `title`, `upper`, `lower`, `pad`, `truncate`, from
//! docker/cli `templates/templates.go`), plus Docker's header variants for table headers.

use std::collections::HashMap;

use super::printf::{sprint, sprintf, sprintln};
use crate::format::value::{NilKind, ObjectKind, Value, to_json};

/// The Go type of a parameter, checked before the call like Go's reflection does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `interface{}`: anything.
    Any,
    /// `string`.
    Str,
    /// `int`.
    Int,
    /// `[]string`.
    Strings,
}

/// A template function: its parameters and its body.
#[derive(Clone, Copy)]
pub struct Func {
    pub params: &'static [Param],
    /// The type of extra arguments, for variadic functions.
    pub variadic: Option<Param>,
    pub call: fn(&[Value]) -> Result<Value, String>,
}

/// The functions a template may use, by name.
pub struct FuncTable {
    funcs: HashMap<&'static str, Func>,
}

const fn func(params: &'static [Param], call: fn(&[Value]) -> Result<Value, String>) -> Func {
    Func {
        params,
        variadic: None,
        call,
    }
}

const fn variadic(
    params: &'static [Param],
    rest: Param,
    call: fn(&[Value]) -> Result<Value, String>,
) -> Func {
    Func {
        params,
        variadic: Some(rest),
        call,
    }
}

use Param::{Any, Int, Str, Strings};

/// Go's text/template builtins.
const GO_BUILTINS: &[(&str, Func)] = &[
    ("and", variadic(&[Any], Any, and)),
    ("or", variadic(&[Any], Any, or)),
    ("not", func(&[Any], |a| Ok(Value::Bool(!a[0].is_true())))),
    ("len", func(&[Any], len)),
    ("index", variadic(&[Any], Any, index)),
    ("slice", variadic(&[Any], Int, slice)),
    ("print", variadic(&[], Any, |a| Ok(Value::String(sprint(a))))),
    ("println", variadic(&[], Any, |a| Ok(Value::String(sprintln(a))))),
    (
        "printf",
        variadic(&[Str], Any, |a| {
            Ok(Value::String(sprintf(str_arg(&a[0]), &a[1..])))
        }),
    ),
    ("eq", variadic(&[Any], Any, eq)),
    (
        "ne",
        func(&[Any, Any], |a| Ok(Value::Bool(!equal(&a[0], &a[1])?))),
    ),
    (
        "lt",
        func(&[Any, Any], |a| {
            compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_lt()))
        }),
    ),
    (
        "le",
        func(&[Any, Any], |a| {
            compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_le()))
        }),
    ),
    (
        "gt",
        func(&[Any, Any], |a| {
            compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_gt()))
        }),
    ),
    (
        "ge",
        func(&[Any, Any], |a| {
            compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_ge()))
        }),
    ),
    (
        "html",
        variadic(&[], Any, |a| Ok(Value::String(html_escape(&text_of(a))))),
    ),
    (
        "js",
        variadic(&[], Any, |a| Ok(Value::String(js_escape(&text_of(a))))),
    ),
    (
        "urlquery",
        variadic(&[], Any, |a| Ok(Value::String(query_escape(&text_of(a))))),
    ),
    ("call", variadic(&[Any], Any, call)),
];

/// Docker's functions (docker/cli `templates.basicFunctions`).
const DOCKER_FUNCS: &[(&str, Func)] = &[
    ("json", func(&[Any], |a| Ok(Value::String(to_json(&a[0]))))),
    ("split", func(&[Str, Str], split)),
    ("join", func(&[Strings, Str], join)),
    (
        "title",
        func(&[Str], |a| Ok(Value::String(title(str_arg(&a[0]))))),
    ),
    (
        "lower",
        func(&[Str], |a| Ok(Value::String(str_arg(&a[0]).to_lowercase()))),
    ),
    (
        "upper",
        func(&[Str], |a| Ok(Value::String(str_arg(&a[0]).to_uppercase()))),
    ),
    ("pad", func(&[Str, Int, Int], pad)),
    ("truncate", func(&[Str, Int], truncate)),
];

/// Docker's header variants (`templates.HeaderFunctions`): they leave the column name intact.
const HEADER_FUNCS: &[(&str, Func)] = &[
    ("json", func(&[Str], first)),
    ("split", func(&[Str, Str], first)),
    ("join", func(&[Str, Str], first)),
    ("title", func(&[Str], first)),
    ("lower", func(&[Str], first)),
    ("upper", func(&[Str], first)),
    ("truncate", func(&[Str, Int], first)),
];

impl FuncTable {
    /// Go's builtins and Docker's functions: what `--format` and `inspect -f` templates see.
    pub fn docker() -> Self {
        FuncTable {
            funcs: GO_BUILTINS.iter().chain(DOCKER_FUNCS).copied().collect(),
        }
    }

    /// The same, with Docker's header variants: used to render a table's header row.
    pub fn docker_header() -> Self {
        FuncTable {
            funcs: GO_BUILTINS
                .iter()
                .chain(DOCKER_FUNCS)
                .chain(HEADER_FUNCS)
                .copied()
                .collect(),
        }
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }
}

fn str_arg(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn int_arg(value: &Value) -> i64 {
    value.as_int().unwrap_or_default()
}

fn first(args: &[Value]) -> Result<Value, String> {
    Ok(args[0].clone())
}

fn and(args: &[Value]) -> Result<Value, String> {
    Ok(args
        .iter()
        .find(|v| !v.is_true())
        .unwrap_or(&args[args.len() - 1])
        .clone())
}

fn or(args: &[Value]) -> Result<Value, String> {
    Ok(args
        .iter()
        .find(|v| v.is_true())
        .unwrap_or(&args[args.len() - 1])
        .clone())
}

fn len(args: &[Value]) -> Result<Value, String> {
    let n = match &args[0] {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        Value::Object(o) if !matches!(o.kind, ObjectKind::Row(_)) => o.entries.len(),
        Value::Nil(NilKind::Slice | NilKind::Map) => 0,
        // Docker's raw-JSON fallback decodes numbers as json.Number, a string.
        Value::Number(n) => n.to_string().len(),
        Value::Missing | Value::Nil(NilKind::Pointer) => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", other.go_type())),
    };
    Ok(Value::from(n as i64))
}

/// The zero value of a map's elements: "" for string maps (labels), nil otherwise.
fn map_zero(entries: &[(String, Value)]) -> Value {
    if entries.iter().all(|(_, v)| matches!(v, Value::String(_))) {
        Value::String(String::new())
    } else {
        Value::Nil(NilKind::Pointer)
    }
}

fn index(args: &[Value]) -> Result<Value, String> {
    let mut item = args[0].clone();
    if matches!(item, Value::Missing) {
        return Err("index of untyped nil".into());
    }
    for key in &args[1..] {
        item = match (&item, key) {
            (Value::Nil(NilKind::Pointer), _) => return Err("index of nil pointer".into()),
            (Value::Nil(NilKind::Map), Value::String(_)) => Value::String(String::new()),
            (Value::Object(o), Value::String(k)) if !matches!(o.kind, ObjectKind::Row(_)) => {
                o.get(k).cloned().unwrap_or_else(|| map_zero(&o.entries))
            }
            (Value::Object(o), other) if !matches!(o.kind, ObjectKind::Row(_)) => {
                return Err(format!("value has type {}; should be string", other.go_type()));
            }
            (Value::Array(_) | Value::String(_) | Value::Nil(NilKind::Slice), _) => {
                let len = match &item {
                    Value::Array(items) => items.len(),
                    Value::String(s) => s.len(),
                    _ => 0,
                };
                let i = key
                    .as_int()
                    .ok_or_else(|| format!("cannot index slice/array with type {}", key.go_type()))?;
                let i = usize::try_from(i)
                    .ok()
                    .filter(|&i| i < len)
                    .ok_or(format!("index out of range: {i}"))?;
                match &item {
                    Value::Array(items) => items[i].clone(),
                    Value::String(s) => Value::from(i64::from(s.as_bytes()[i])),
                    _ => unreachable!("empty nil slice has no index"),
                }
            }
            (other, _) => return Err(format!("can't index item of type {}", other.go_type())),
        };
    }
    Ok(item)
}

fn slice(args: &[Value]) -> Result<Value, String> {
    let item = &args[0];
    let len = match item {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        Value::Nil(NilKind::Slice) => 0,
        other => return Err(format!("can't slice item of type {}", other.go_type())),
    };
    let bounds: Vec<usize> = args[1..]
        .iter()
        .map(|v| {
            let i = int_arg(v);
            usize::try_from(i)
                .ok()
                .filter(|&i| i <= len)
                .ok_or(format!("index out of range: {i}"))
        })
        .collect::<Result<_, _>>()?;
    let max_bounds = if matches!(item, Value::String(_)) { 2 } else { 3 };
    if bounds.len() > max_bounds {
        return Err(format!("too many slice indexes: {}", bounds.len()));
    }
    let start = bounds.first().copied().unwrap_or(0);
    let end = bounds.get(1).copied().unwrap_or(len);
    if start > end {
        return Err(format!("invalid slice index: {start} > {end}"));
    }
    Ok(match item {
        Value::String(s) => Value::String(String::from_utf8_lossy(&s.as_bytes()[start..end]).into_owned()),
        Value::Array(items) => Value::Array(items[start..end].to_vec()),
        _ => Value::Nil(NilKind::Slice),
    })
}

/// The comparable kind of a value, as Go's `eq` sorts them.
#[derive(PartialEq)]
enum Kind {
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn kind(value: &Value) -> Kind {
    match value {
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if n.is_f64() => Kind::Float,
        Value::Number(_) => Kind::Int,
        Value::String(_) => Kind::String,
        _ => Kind::Other,
    }
}

fn is_nil(value: &Value) -> bool {
    matches!(value, Value::Missing | Value::Nil(_))
}

/// Go's `eq` for two values.
fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if is_nil(a) || is_nil(b) {
            return Ok(is_nil(a) && is_nil(b));
        }
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ if is_nil(a) && is_nil(b) => true,
        _ => return Err(format!("non-comparable type {}: {}", a, a.go_type())),
    })
}

fn eq(args: &[Value]) -> Result<Value, String> {
    if args.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    for other in &args[1..] {
        if equal(&args[0], other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// Go's ordering for `lt`, `le`, `gt`, `ge`: numbers and strings only.
fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Ok(x.cmp(&y)),
            _ => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .ok_or_else(|| "invalid type for comparison".into()),
        },
        _ => Err("invalid type for comparison".into()),
    }
}

fn call(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Method(method) => method.call(&args[1..]),
        other => Err(format!("non-function of type {}", other.go_type())),
    }
}

/// Go's `evalArgs` for html/js/urlquery: one string as is, else `fmt.Sprint`.
fn text_of(args: &[Value]) -> String {
    match args {
        [Value::String(s)] => s.clone(),
        _ => sprint(args),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' | '>' | '&' | '=' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn split(args: &[Value]) -> Result<Value, String> {
    let (s, sep) = (str_arg(&args[0]), str_arg(&args[1]));
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep).map(Value::from).collect()
    };
    Ok(Value::Array(parts))
}

fn join(args: &[Value]) -> Result<Value, String> {
    let parts: Vec<&str> = match &args[0] {
        Value::Array(items) => items.iter().map(str_arg).collect(),
        _ => Vec::new(),
    };
    Ok(Value::String(parts.join(str_arg(&args[1]))))
}

/// Go's `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .flat_map(|c| {
            let upper = is_separator(prev);
            prev = c;
            if upper {
                c.to_uppercase().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn pad(args: &[Value]) -> Result<Value, String> {
    let source = str_arg(&args[0]);
    if source.is_empty() {
        return Ok(Value::String(String::new()));
    }
    let prefix = usize::try_from(int_arg(&args[1])).map_err(|_| "strings: negative Repeat count")?;
    let suffix = usize::try_from(int_arg(&args[2])).map_err(|_| "strings: negative Repeat count")?;
    Ok(Value::String(format!(
        "{}{source}{}",
        " ".repeat(prefix),
        " ".repeat(suffix)
    )))
}

fn truncate(args: &[Value]) -> Result<Value, String> {
    let source = str_arg(&args[0]);
    let length =
        usize::try_from(int_arg(&args[1])).map_err(|_| "runtime error: slice bounds out of range")?;
    if source.len() < length {
        return Ok(Value::String(source.to_string()));
    }
    // Go cuts bytes; we cut at the character boundary at or before them.
    let mut end = length;
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    Ok(Value::String(source[..end].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_matches_strings_title() {
        assert_eq!(title("hello wOrld-foo_bar"), "Hello WOrld-Foo_bar");
    }

    #[test]
    fn escapes_match_go() {
        assert_eq!(html_escape("<a&b>"), "&lt;a&amp;b&gt;");
        assert_eq!(js_escape("a'b<"), "a\\'b\\u003C");
        assert_eq!(query_escape("a b&c"), "a+b%26c");
    }

    #[test]
    fn index_on_labels_and_slices() {
        let labels = Value::from_json_str(r#"{"Labels":{"b":"two"}}"#).unwrap();
        let Value::Object(o) = labels else { panic!() };
        let labels = o.get("Labels").unwrap().clone();
        assert_eq!(
            index(&[labels.clone(), Value::from("b")]).unwrap().to_string(),
            "two"
        );
        assert_eq!(index(&[labels, Value::from("zz")]).unwrap().to_string(), "");
        let list = Value::Array(vec![Value::from("a")]);
        assert_eq!(
            index(&[list, Value::from(3)]).unwrap_err(),
            "index out of range: 3"
        );
    }

    #[test]
    fn comparisons_follow_go() {
        assert!(equal(&Value::from(1), &Value::from(1)).unwrap());
        assert!(!equal(&Value::Missing, &Value::from("x")).unwrap());
        assert_eq!(
            equal(&Value::from(1), &Value::from("1")).unwrap_err(),
            "incompatible types for comparison"
        );
        assert!(compare(&Value::from("a"), &Value::from("b")).unwrap().is_lt());
    }
}
