//! The data a template runs on, and how Go prints it.
//!
//! Docker runs `inspect -f` templates on Go structs and list templates on Go "context" structs.
//! We only have JSON, so a [`Value`] keeps what the Go side would know: the order of a struct's
//! fields, whether an object is a Go map (printed `map[k:v]`, keys sorted) or a struct (printed
//! `{v1 v2}` in field order), and what kind of nil a JSON `null` stands for (`[]`, `map[]`, `<nil>`).
//! [`Value::from_json_str`] keeps the document's key order, so the API's struct order survives.

use std::fmt;
use std::rc::Rc;

use serde::Deserialize;

/// A value seen by a template: JSON plus the Go type facts printing needs.
#[derive(Clone, Debug)]
pub enum Value {
    /// A missing map entry: Go's invalid value, printed `<no value>`.
    Missing,
    /// A Go nil; the kind decides how it prints.
    Nil(NilKind),
    /// A boolean.
    Bool(bool),
    /// An integer or a float, as JSON carries it.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// A slice.
    Array(Vec<Value>),
    /// A map or a struct.
    Object(Object),
    /// A method taking arguments, like the list rows' `.Label "name"`.
    Method(Method),
}

/// What a nil stands for in Go, which decides how it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NilKind {
    /// A nil pointer or interface: `<nil>`.
    Pointer,
    /// A nil slice: `[]`.
    Slice,
    /// A nil map: `map[]`.
    Map,
}

/// A JSON object with its keys in order and the Go type it stands for.
#[derive(Clone, Debug)]
pub struct Object {
    /// The Go type it stands for.
    pub kind: ObjectKind,
    /// Keys and values, in the order Go would keep them for a struct.
    pub entries: Vec<(String, Value)>,
    /// The API field it was found under (for slice elements, the slice's): names the Go type
    /// well enough to know the fields the JSON omits when empty.
    pub origin: Option<String>,
}

/// The Go type an [`Object`] stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A Go map: printed `map[k:v]` with sorted keys; a missing key is `<no value>`.
    Map,
    /// A Go struct decoded from the Engine API: printed `{v1 v2}`; a missing field is an error,
    /// as in Docker's raw-JSON fallback ("map has no entry for key").
    Struct,
    /// One row of a list command (Docker's formatter context, named for error messages):
    /// a missing field is an error ("can't evaluate field"), `json` prints it sorted and HTML-escaped.
    Row(&'static str),
}

/// The body of a [`Method`]: arguments in, value or error message out.
type MethodFn = dyn Fn(&[Value]) -> Result<Value, String>;

/// A method value: called with the template's arguments, like Go's methods on context structs.
#[derive(Clone)]
pub struct Method(Rc<MethodFn>);

impl Method {
    /// Wrap a closure as a method value.
    pub fn new(f: impl Fn(&[Value]) -> Result<Value, String> + 'static) -> Self {
        Method(Rc::new(f))
    }

    /// Call the method.
    pub fn call(&self, args: &[Value]) -> Result<Value, String> {
        (self.0)(args)
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Method")
    }
}

impl Object {
    /// An empty object of the given kind.
    pub fn new(kind: ObjectKind) -> Self {
        Object {
            kind,
            entries: Vec::new(),
            origin: None,
        }
    }

    /// The value under `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Add (or replace) an entry, keeping the first position of the key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Entries sorted by key, as Go iterates and prints maps.
    pub fn sorted_entries(&self) -> Vec<&(String, Value)> {
        let mut entries: Vec<_> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n.into())
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

impl From<Method> for Value {
    fn from(m: Method) -> Self {
        Value::Method(m)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

impl From<&serde_json::Value> for Value {
    /// Convert Engine API JSON; keys keep the order the `serde_json` map has.
    fn from(json: &serde_json::Value) -> Self {
        Value::from_raw(&RawJson::from(json), None, None)
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        Value::from(&json)
    }
}

/// Fields of Docker's API types that are Go maps (printed `map[...]`, nil as `map[]`).
const MAP_FIELDS: &[&str] = &[
    "Labels",
    "Options",
    "ExposedPorts",
    "Volumes",
    "Ports",
    "PortBindings",
    "Networks",
    "Data",
    "Sysctls",
    "Tmpfs",
    "StorageOpt",
    "DriverOpts",
    "Containers",
    "Status",
    "Annotations",
    "DriverOptions",
];

/// Fields of Docker's API types that are Go slices (nil printed as `[]`).
const SLICE_FIELDS: &[&str] = &[
    "Entrypoint",
    "Cmd",
    "Env",
    "Args",
    "Binds",
    "Links",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "CapAdd",
    "CapDrop",
    "Capabilities",
    "GroupAdd",
    "Aliases",
    "Mounts",
    "Devices",
    "DeviceCgroupRules",
    "DeviceRequests",
    "OnBuild",
    "Shell",
    "SecurityOpt",
    "Layers",
    "RepoTags",
    "RepoDigests",
    "MaskedPaths",
    "ReadonlyPaths",
    "VolumesFrom",
    "Ulimits",
    "Test",
    "Config",
    "Log",
    "Secrets",
    "ConsoleSize",
    "LinkLocalIPs",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "SecondaryIPAddresses",
    "SecondaryIPv6Addresses",
];

/// Whether an object under `field` (inside `parent`) is a Go map rather than a struct.
fn is_map_field(parent: Option<&str>, field: Option<&str>) -> bool {
    match (parent, field) {
        // LogConfig.Config is map[string]string; Container.Config is a struct.
        (Some("LogConfig"), Some("Config")) => true,
        (_, Some(f)) => MAP_FIELDS.contains(&f),
        _ => false,
    }
}

/// What a JSON null under `field` stands for.
fn nil_kind(parent: Option<&str>, field: Option<&str>) -> NilKind {
    match field {
        _ if is_map_field(parent, field) => NilKind::Map,
        // IPAM.Config is a slice; Container.Config is a pointer to a struct.
        Some("Config") if parent == Some("IPAM") => NilKind::Slice,
        Some("Config") => NilKind::Pointer,
        Some(f) if SLICE_FIELDS.contains(&f) => NilKind::Slice,
        _ => NilKind::Pointer,
    }
}

/// Fields Docker's API types tag `omitempty`: absent from the JSON when empty, yet present in
/// the Go struct Docker's templates run on. By the field the struct is found under
/// (`None` for the inspected object itself), the field, and its zero value's kind.
const OMITTED_FIELDS: &[(Option<&str>, &str, Zero)] = &[
    (None, "Node", Zero::Nil(NilKind::Pointer)),
    (None, "SizeRw", Zero::Nil(NilKind::Pointer)),
    (None, "SizeRootFs", Zero::Nil(NilKind::Pointer)),
    (Some("State"), "Health", Zero::Nil(NilKind::Pointer)),
    (Some("Config"), "ExposedPorts", Zero::Nil(NilKind::Map)),
    (Some("Config"), "ArgsEscaped", Zero::False),
    (Some("Config"), "Healthcheck", Zero::Nil(NilKind::Pointer)),
    (Some("Config"), "NetworkDisabled", Zero::False),
    (Some("Config"), "MacAddress", Zero::Empty),
    (Some("Config"), "StopSignal", Zero::Empty),
    (Some("Config"), "StopTimeout", Zero::Nil(NilKind::Pointer)),
    (Some("Config"), "Shell", Zero::Nil(NilKind::Slice)),
    (Some("ContainerConfig"), "ExposedPorts", Zero::Nil(NilKind::Map)),
    (Some("ContainerConfig"), "StopSignal", Zero::Empty),
    (Some("ContainerConfig"), "Shell", Zero::Nil(NilKind::Slice)),
    (Some("HostConfig"), "Tmpfs", Zero::Nil(NilKind::Map)),
    (Some("HostConfig"), "StorageOpt", Zero::Nil(NilKind::Map)),
    (Some("HostConfig"), "Sysctls", Zero::Nil(NilKind::Map)),
    (Some("HostConfig"), "Mounts", Zero::Nil(NilKind::Slice)),
    (Some("HostConfig"), "MaskedPaths", Zero::Nil(NilKind::Slice)),
    (Some("HostConfig"), "ReadonlyPaths", Zero::Nil(NilKind::Slice)),
    (Some("HostConfig"), "Init", Zero::Nil(NilKind::Pointer)),
    (Some("Mounts"), "Name", Zero::Empty),
    (Some("Mounts"), "Driver", Zero::Empty),
];

/// The zero value of an omitted field.
#[derive(Clone, Copy)]
enum Zero {
    Nil(NilKind),
    Empty,
    False,
}

impl Object {
    /// The zero value Go would show for a field the JSON left out, when it is a known one.
    pub fn omitted_field(&self, name: &str) -> Option<Value> {
        OMITTED_FIELDS
            .iter()
            .find(|(origin, field, _)| *origin == self.origin.as_deref() && *field == name)
            .map(|(_, _, zero)| match zero {
                Zero::Nil(kind) => Value::Nil(*kind),
                Zero::Empty => Value::String(String::new()),
                Zero::False => Value::Bool(false),
            })
    }
}

/// JSON kept in document order: `serde_json::Value` sorts keys unless a feature is on.
#[derive(Debug)]
enum RawJson {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<RawJson>),
    Object(Vec<(String, RawJson)>),
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawJsonVisitor)
    }
}

struct RawJsonVisitor;

impl<'de> serde::de::Visitor<'de> for RawJsonVisitor {
    type Value = RawJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<RawJson, E> {
        Ok(RawJson::Null)
    }
    fn visit_none<E>(self) -> Result<RawJson, E> {
        Ok(RawJson::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<RawJson, E> {
        Ok(RawJson::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<RawJson, E> {
        Ok(RawJson::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<RawJson, E> {
        Ok(RawJson::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<RawJson, E> {
        Ok(serde_json::Number::from_f64(n).map_or(RawJson::Null, RawJson::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<RawJson, E> {
        Ok(RawJson::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<RawJson, E> {
        Ok(RawJson::String(s))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawJson, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawJson::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawJson, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, RawJson>()? {
            entries.push((key, value));
        }
        Ok(RawJson::Object(entries))
    }
}

impl From<&serde_json::Value> for RawJson {
    fn from(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => RawJson::Null,
            serde_json::Value::Bool(b) => RawJson::Bool(*b),
            serde_json::Value::Number(n) => RawJson::Number(n.clone()),
            serde_json::Value::String(s) => RawJson::String(s.clone()),
            serde_json::Value::Array(a) => RawJson::Array(a.iter().map(RawJson::from).collect()),
            serde_json::Value::Object(o) => {
                RawJson::Object(o.iter().map(|(k, v)| (k.clone(), RawJson::from(v))).collect())
            }
        }
    }
}

impl Value {
    /// Parse Engine API JSON text, keeping its key order (the order of Docker's Go structs).
    pub fn from_json_str(text: &str) -> Result<Value, serde_json::Error> {
        let raw: RawJson = serde_json::from_str(text)?;
        Ok(Value::from_raw(&raw, None, None))
    }

    /// Convert one JSON node found under `field` of an object found under `parent`.
    fn from_raw(raw: &RawJson, parent: Option<&str>, field: Option<&str>) -> Value {
        match raw {
            RawJson::Null => Value::Nil(nil_kind(parent, field)),
            RawJson::Bool(b) => Value::Bool(*b),
            RawJson::Number(n) => Value::Number(n.clone()),
            RawJson::String(s) => Value::String(s.clone()),
            // Elements of a slice are typed by the slice's field (Mounts → mount structs).
            RawJson::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        RawJson::Object(entries) => Value::object_from_raw(entries, field, false),
                        other => Value::from_raw(other, parent, None),
                    })
                    .collect(),
            ),
            RawJson::Object(entries) => Value::object_from_raw(entries, field, is_map_field(parent, field)),
        }
    }

    /// Convert a JSON object found under `field`: a Go map or a struct.
    fn object_from_raw(entries: &[(String, RawJson)], field: Option<&str>, is_map: bool) -> Value {
        let kind = if is_map {
            ObjectKind::Map
        } else {
            ObjectKind::Struct
        };
        let entries = entries
            .iter()
            .map(|(k, v)| {
                // A map's values are typed by the map, not by their keys (a label named "Env").
                let child_field = if is_map { None } else { Some(k.as_str()) };
                (k.clone(), Value::from_raw(v, field, child_field))
            })
            .collect();
        Value::Object(Object {
            kind,
            entries,
            origin: field.map(str::to_string),
        })
    }

    /// Go's truth for `if`, `with`, `and`, `or`, `not`: false, 0, nil, empty or missing are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Missing | Value::Nil(_) => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => o.kind != ObjectKind::Map || !o.entries.is_empty(),
            Value::Method(_) => true,
        }
    }

    /// The Go type name used in messages (`string`, `int`, `map[string]interface {}`…).
    pub fn go_type(&self) -> String {
        match self {
            Value::Missing => "<no value>".into(),
            Value::Nil(_) => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Number(n) if n.is_f64() => "float64".into(),
            Value::Number(_) => "int".into(),
            Value::String(_) => "string".into(),
            Value::Array(_) => "[]interface {}".into(),
            Value::Object(o) => match o.kind {
                ObjectKind::Map | ObjectKind::Struct => "map[string]interface {}".into(),
                ObjectKind::Row(name) => name.into(),
            },
            Value::Method(_) => "func".into(),
        }
    }

    /// The string inside, for functions that take Go strings.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer inside, for functions that take Go ints.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Go's `fmt.Print` of the value (the `%v` verb), as a template action prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("<no value>"),
            Value::Nil(NilKind::Pointer) => f.write_str("<nil>"),
            Value::Nil(NilKind::Slice) => f.write_str("[]"),
            Value::Nil(NilKind::Map) => f.write_str("map[]"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&go_number(n)),
            Value::String(s) => f.write_str(s),
            Value::Array(items) => {
                f.write_str("[")
                    .and_then(|()| write_joined(f, items.iter().map(|v| v as &dyn fmt::Display)))?;
                f.write_str("]")
            }
            Value::Object(o) if o.kind == ObjectKind::Map => {
                f.write_str("map[")?;
                for (i, (k, v)) in o.sorted_entries().into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(o) => {
                f.write_str("{")?;
                write_joined(f, o.entries.iter().map(|(_, v)| v as &dyn fmt::Display))?;
                f.write_str("}")
            }
            Value::Method(_) => f.write_str("<method>"),
        }
    }
}

fn write_joined<'a>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = &'a dyn fmt::Display>,
) -> fmt::Result {
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// A number as Go's `%v` prints it: integers plainly, floats shortest, with an exponent
/// below 1e-4 or from 1e6 on (strconv's `'g'` with the shortest precision).
pub fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    go_float_v(f)
}

/// A float as Go's `%v` prints it.
pub fn go_float_v(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e6).contains(&abs) {
        go_exponent(&format!("{f:e}"))
    } else {
        format!("{f}")
    }
}

/// Rewrite Rust's `1.5e-7` exponent form into Go's `1.5e-07`.
pub fn go_exponent(rust: &str) -> String {
    match rust.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => rust.to_string(),
    }
}

/// Encode as JSON the way Docker's `json` template function does.
///
/// Engine API data keeps its field order and is not HTML-escaped (Docker's encoder turns that
/// off); list rows are encoded like Docker's context `MarshalJSON`: keys sorted, `<>&` escaped.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    let escape_html = matches!(
        value,
        Value::Object(Object {
            kind: ObjectKind::Row(_),
            ..
        })
    );
    write_json(&mut out, value, escape_html);
    out
}

fn write_json(out: &mut String, value: &Value, escape_html: bool) {
    match value {
        Value::Missing | Value::Nil(_) | Value::Method(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number(n)),
        Value::String(s) => write_json_string(out, s, escape_html),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, escape_html);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            let entries: Vec<&(String, Value)> = match o.kind {
                ObjectKind::Row(_) => {
                    // Methods with arguments (Label) are not part of a row's JSON.
                    o.sorted_entries()
                        .into_iter()
                        .filter(|(_, v)| !matches!(v, Value::Method(_)))
                        .collect()
                }
                _ => o.entries.iter().collect(),
            };
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k, escape_html);
                out.push(':');
                write_json(out, v, escape_html);
            }
            out.push('}');
        }
    }
}

fn json_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes 1e-07 as 1e-7 in JSON.
        format!("{f:e}").replace("e", "e+").replace("e+-", "e-")
    } else {
        format!("{f}")
    }
}

/// A JSON string as Go's encoder writes it (`\u003c` style escapes for `<>&` when asked).
fn write_json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect() -> Value {
        Value::from_json_str(
            r#"{"Id":"abc","State":{"Status":"running","Running":true,"Pid":42,"Health":null},
                "Config":{"Env":["A=1","B=x y"],"Entrypoint":null,"Volumes":null,
                          "Labels":{"b":"two","a.x":"1"},"Cmd":["sh","-c","a && b"]},
                "HostConfig":{"LogConfig":{"Type":"json-file","Config":{}},
                              "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}}}"#,
        )
        .unwrap()
    }

    fn field(v: &Value, path: &[&str]) -> Value {
        path.iter().fold(v.clone(), |v, key| match v {
            Value::Object(o) => o.get(key).cloned().unwrap(),
            _ => panic!("not an object at {key}"),
        })
    }

    #[test]
    fn slices_and_maps_print_like_go() {
        let v = inspect();
        assert_eq!(field(&v, &["Config", "Env"]).to_string(), "[A=1 B=x y]");
        assert_eq!(field(&v, &["Config", "Labels"]).to_string(), "map[a.x:1 b:two]");
        assert_eq!(field(&v, &["Config", "Entrypoint"]).to_string(), "[]");
        assert_eq!(field(&v, &["Config", "Volumes"]).to_string(), "map[]");
        assert_eq!(field(&v, &["State", "Health"]).to_string(), "<nil>");
        assert_eq!(
            field(&v, &["HostConfig", "LogConfig"]).to_string(),
            "{json-file map[]}"
        );
        assert_eq!(
            field(&v, &["HostConfig", "PortBindings"]).to_string(),
            "map[80/tcp:[{ 8080}]]"
        );
        assert_eq!(field(&v, &["State"]).to_string(), "{running true 42 <nil>}");
    }

    #[test]
    fn json_keeps_struct_order_and_does_not_escape_html() {
        let v = inspect();
        assert_eq!(
            to_json(&field(&v, &["State"])),
            r#"{"Status":"running","Running":true,"Pid":42,"Health":null}"#
        );
        assert_eq!(to_json(&field(&v, &["Config", "Cmd"])), r#"["sh","-c","a && b"]"#);
    }

    #[test]
    fn rows_encode_sorted_and_html_escaped() {
        let mut row = Object::new(ObjectKind::Row("*formatter.imageContext"));
        row.insert("Tag", "<none>");
        row.insert("ID", "abc");
        row.insert("Label", Method::new(|_| Ok(Value::from(""))));
        assert_eq!(
            to_json(&Value::Object(row)),
            r#"{"ID":"abc","Tag":"\u003cnone\u003e"}"#
        );
    }

    #[test]
    fn numbers_print_like_go() {
        assert_eq!(go_float_v(0.5), "0.5");
        assert_eq!(go_float_v(3.0), "3");
        assert_eq!(go_float_v(1e6), "1e+06");
        assert_eq!(go_float_v(123456.0), "123456");
        assert_eq!(go_float_v(1.5e-7), "1.5e-07");
    }

    #[test]
    fn truth_follows_go() {
        assert!(!Value::from("").is_true());
        assert!(!Value::from(0).is_true());
        assert!(!Value::Missing.is_true());
        assert!(Value::Object(Object::new(ObjectKind::Struct)).is_true());
        assert!(!Value::Object(Object::new(ObjectKind::Map)).is_true());
    }
}
