//! Build the tree of a Go template from its tokens, as Go's text/template/parse does:
//! the same grammar, the same parse-time checks (unknown functions, undefined variables,
//! `{{break}}` outside `{{range}}`).

use std::fmt;

use super::ParseError;
use super::lex::{Keyword, Tok, Token, lex, unquote};
use crate::format::value::Value;

/// One node of a template's body.
#[derive(Clone, Debug)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{pipeline}}`: evaluate, and print unless it declares variables.
    Action(Pipe),
    /// `{{if}}`.
    If(Branch),
    /// `{{with}}`.
    With(Branch),
    /// `{{range}}`.
    Range(Branch),
    /// `{{template "name" pipeline}}`.
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// The pipeline and bodies of `if`, `with` and `range`.
#[derive(Clone, Debug)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Clone, Debug)]
pub struct Pipe {
    pub pos: usize,
    /// Declared (or assigned) variable names, with their `$`.
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

/// One command of a pipeline: a function, method or field with its arguments, or a value.
#[derive(Clone, Debug)]
pub struct Command {
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Clone, Debug)]
pub enum Arg {
    /// `.`
    Dot(usize),
    /// `nil`
    Nil(usize),
    /// A constant: bool, number, character or string, with how it was written.
    Const { pos: usize, value: Value, text: String },
    /// `.A.B`
    Field { pos: usize, names: Vec<String> },
    /// `$x.A.B`
    Variable {
        pos: usize,
        name: String,
        fields: Vec<String>,
    },
    /// A function name.
    Ident { pos: usize, name: String },
    /// `(pipeline)`
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B`
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
}

impl Arg {
    /// Where the operand starts, for error messages.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Dot(pos) | Arg::Nil(pos) => *pos,
            Arg::Const { pos, .. }
            | Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(pipe) => pipe.pos,
        }
    }
}

impl fmt::Display for Arg {
    /// The operand as Go shows it in "executing … at <…>" messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Const { text, .. } => f.write_str(text),
            Arg::Field { names, .. } => names.iter().try_for_each(|n| write!(f, ".{n}")),
            Arg::Variable { name, fields, .. } => {
                f.write_str(name)?;
                fields.iter().try_for_each(|n| write!(f, ".{n}"))
            }
            Arg::Ident { name, .. } => f.write_str(name),
            Arg::Pipe(pipe) => write!(f, "({pipe})"),
            Arg::Chain { node, fields, .. } => {
                write!(f, "{node}")?;
                fields.iter().try_for_each(|n| write!(f, ".{n}"))
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{arg}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}

/// A parsed template: its body and the templates it defines.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub root: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

/// Where an item list stopped.
enum Stop {
    Eof,
    End,
    Else,
    /// `{{else if`: the `if` is the next token.
    ElseIf,
}

/// Parse template text; `has_function` says which function names exist.
pub fn parse(text: &str, has_function: &dyn Fn(&str) -> bool) -> Result<Tree, ParseError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        control_depth: 0,
        has_function,
        tree: Tree::default(),
    };
    let (root, stop) = parser.item_list()?;
    match stop {
        Stop::Eof => {}
        Stop::End => return Err(parser.error("unexpected {{end}}")),
        Stop::Else | Stop::ElseIf => return Err(parser.error("unexpected {{else}}")),
    }
    parser.tree.root = root;
    Ok(parser.tree)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    next: usize,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    range_depth: usize,
    control_depth: usize,
    has_function: &'a dyn Fn(&str) -> bool,
    tree: Tree,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(t) => format!("{t:?}"),
        Tok::LeftDelim => "\"{{\"".into(),
        Tok::RightDelim => "\"}}\"".into(),
        Tok::Space => "space".into(),
        Tok::Ident(n) => format!("{n:?}"),
        Tok::Keyword(k) => format!("<{}>", format!("{k:?}").to_lowercase()),
        Tok::Bool(b) => format!("\"{b}\""),
        Tok::Field(n) => format!("\".{n}\""),
        Tok::Variable(n) => format!("{n:?}"),
        Tok::Dot => "\".\"".into(),
        Tok::Number(n) | Tok::Char(n) => format!("{n:?}"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Pipe => "\"|\"".into(),
        Tok::LeftParen => "\"(\"".into(),
        Tok::RightParen => "\")\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Eof => "EOF".into(),
    }
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        let pos = self.tokens.get(self.next.saturating_sub(1)).map_or(0, |t| t.pos);
        ParseError {
            line: 1 + self.text[..pos].matches('\n').count(),
            message: message.into(),
        }
    }

    fn unexpected(&self, tok: &Tok, context: &str) -> ParseError {
        match tok {
            Tok::Eof => self.error("unexpected EOF"),
            Tok::RightDelim if context == "parenthesized pipeline" => self.error("unclosed left paren"),
            _ => self.error(format!("unexpected {} in {context}", describe(tok))),
        }
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn skip_spaces(&mut self) {
        while self.peek().tok == Tok::Space {
            self.next += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_spaces();
        self.advance()
    }

    fn expect_right_delim(&mut self, context: &str) -> Result<(), ParseError> {
        let token = self.next_non_space();
        if token.tok != Tok::RightDelim {
            return Err(self.unexpected(&token.tok, context));
        }
        Ok(())
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of input.
    fn item_list(&mut self) -> Result<(Vec<Node>, Stop), ParseError> {
        let mut list = Vec::new();
        loop {
            let token = self.advance();
            match token.tok {
                Tok::Eof => return Ok((list, Stop::Eof)),
                Tok::Text(text) => list.push(Node::Text(text)),
                Tok::LeftDelim => match self.action()? {
                    Ok(Some(node)) => list.push(node),
                    Ok(None) => {}
                    Err(stop) => return Ok((list, stop)),
                },
                other => return Err(self.unexpected(&other, "input")),
            }
        }
    }

    /// One action after its `{{`: a node, nothing (a define), or where a list stops.
    fn action(&mut self) -> Result<Result<Option<Node>, Stop>, ParseError> {
        self.skip_spaces();
        let Tok::Keyword(keyword) = self.peek().tok else {
            let pipe = self.pipeline("command", &Tok::RightDelim)?;
            return Ok(Ok(Some(Node::Action(pipe))));
        };
        self.advance();
        let node = match keyword {
            Keyword::End => {
                self.expect_right_delim("end")?;
                return Ok(Err(Stop::End));
            }
            Keyword::Else => {
                self.skip_spaces();
                if self.peek().tok == Tok::Keyword(Keyword::If) {
                    return Ok(Err(Stop::ElseIf));
                }
                self.expect_right_delim("else")?;
                return Ok(Err(Stop::Else));
            }
            Keyword::If => Node::If(self.control("if")?),
            Keyword::With => Node::With(self.control("with")?),
            Keyword::Range => Node::Range(self.control("range")?),
            Keyword::Break | Keyword::Continue => {
                let name = if keyword == Keyword::Break {
                    "break"
                } else {
                    "continue"
                };
                if self.range_depth == 0 {
                    return Err(self.error(format!("{{{{{name}}}}} outside {{{{range}}}}")));
                }
                self.expect_right_delim(name)?;
                if keyword == Keyword::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            Keyword::Template => self.template_call()?,
            Keyword::Define => {
                self.define()?;
                return Ok(Ok(None));
            }
            Keyword::Block => self.block()?,
            Keyword::Nil => {
                // `{{nil}}` alone: Go reports it as a command that is not one.
                self.next -= 1;
                let pipe = self.pipeline("command", &Tok::RightDelim)?;
                return Ok(Ok(Some(Node::Action(pipe))));
            }
        };
        Ok(Ok(Some(node)))
    }

    /// `if`/`with`/`range`: pipeline, body, optional else body, end.
    fn control(&mut self, context: &str) -> Result<Branch, ParseError> {
        let vars_before = self.vars.len();
        self.control_depth += 1;
        let pipe = self.pipeline(context, &Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, stop) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match stop {
            Stop::Eof => return Err(self.error("unexpected EOF")),
            Stop::End => None,
            // {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}.
            Stop::ElseIf if context == "if" => {
                self.advance();
                Some(vec![Node::If(self.control("if")?)])
            }
            Stop::ElseIf => return Err(self.error(format!("unexpected <if> in {context}"))),
            Stop::Else => {
                let (else_list, stop) = self.item_list()?;
                match stop {
                    Stop::End => Some(else_list),
                    Stop::Eof => return Err(self.error("unexpected EOF")),
                    Stop::Else | Stop::ElseIf => return Err(self.error("expected end; found {{else}}")),
                }
            }
        };
        self.control_depth -= 1;
        self.vars.truncate(vars_before);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, context: &str) -> Result<String, ParseError> {
        let token = self.next_non_space();
        match token.tok {
            Tok::Str(name) => Ok(name),
            other => Err(self.unexpected(&other, context)),
        }
    }

    /// `{{template "name" [pipeline]}}`.
    fn template_call(&mut self) -> Result<Node, ParseError> {
        let pos = self.peek().pos;
        let name = self.template_name("template clause")?;
        self.skip_spaces();
        let pipe = if self.peek().tok == Tok::RightDelim {
            self.advance();
            None
        } else {
            Some(self.pipeline("template clause", &Tok::RightDelim)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    /// `{{define "name"}} body {{end}}`, only at the top level.
    fn define(&mut self) -> Result<(), ParseError> {
        if self.control_depth > 0 {
            return Err(self.error("unexpected <define> in command"));
        }
        let name = self.template_name("define clause")?;
        self.expect_right_delim("define clause")?;
        let body = self.definition_body()?;
        self.tree.defines.push((name, body));
        Ok(())
    }

    /// `{{block "name" pipeline}} body {{end}}`: define it, then call it.
    fn block(&mut self) -> Result<Node, ParseError> {
        let pos = self.peek().pos;
        let name = self.template_name("block clause")?;
        let pipe = self.pipeline("block clause", &Tok::RightDelim)?;
        let body = self.definition_body()?;
        self.tree.defines.push((name.clone(), body));
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    /// The body of a define or block: its own variables, ended by `{{end}}`.
    fn definition_body(&mut self) -> Result<Vec<Node>, ParseError> {
        let outer_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let outer_range = std::mem::take(&mut self.range_depth);
        self.control_depth += 1;
        let (body, stop) = self.item_list()?;
        self.control_depth -= 1;
        self.vars = outer_vars;
        self.range_depth = outer_range;
        match stop {
            Stop::End => Ok(body),
            Stop::Eof => Err(self.error("unexpected EOF")),
            Stop::Else | Stop::ElseIf => Err(self.error("unexpected {{else}}")),
        }
    }

    /// A pipeline up to `end` (`}}` or `)`), with optional declarations first.
    fn pipeline(&mut self, context: &str, end: &Tok) -> Result<Pipe, ParseError> {
        self.skip_spaces();
        let mut pipe = Pipe {
            pos: self.peek().pos,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        self.declarations(&mut pipe, context)?;
        loop {
            let token = self.next_non_space();
            match &token.tok {
                t if t == end => break,
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Keyword(Keyword::Nil)
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.next -= 1;
                    pipe.cmds.push(self.command()?);
                }
                other => return Err(self.unexpected(other, context)),
            }
        }
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(cmd.args[0], Arg::Const { .. } | Arg::Dot(_) | Arg::Nil(_)) {
                return Err(self.error(format!("non executable command in pipeline stage {}", i + 1)));
            }
        }
        Ok(pipe)
    }

    /// `$x :=`, `$x =`, or in a range `$k, $v :=`.
    fn declarations(&mut self, pipe: &mut Pipe, context: &str) -> Result<(), ParseError> {
        loop {
            let Tok::Variable(name) = self.peek().tok.clone() else {
                return Ok(());
            };
            let start = self.next;
            self.advance();
            self.skip_spaces();
            match self.peek().tok {
                Tok::Declare | Tok::Assign => {
                    pipe.is_assign = self.peek().tok == Tok::Assign;
                    self.advance();
                    if pipe.is_assign && !self.vars.contains(&name) {
                        return Err(self.error(format!("undefined variable {name:?}")));
                    }
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    return Ok(());
                }
                Tok::Comma => {
                    self.advance();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        self.skip_spaces();
                        if matches!(self.peek().tok, Tok::Variable(_)) {
                            continue;
                        }
                        return Err(self.error("range can only initialize variables"));
                    }
                    return Err(self.error(format!("too many declarations in {context}")));
                }
                _ => {
                    // Not a declaration: `$x` is the first operand.
                    self.next = start;
                    return Ok(());
                }
            }
        }
    }

    /// One command: operands separated by spaces, up to `|`, `}}` or `)`.
    fn command(&mut self) -> Result<Command, ParseError> {
        let mut cmd = Command { args: Vec::new() };
        loop {
            self.skip_spaces();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.advance();
            match token.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.next -= 1,
                Tok::Pipe => {}
                other => return Err(self.unexpected(&other, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(cmd)
    }

    /// A term, followed by `.Field`s without spaces.
    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        // Go places a chain (and so its errors) at the first field after the term.
        let mut fields = Vec::new();
        let mut pos = term.pos();
        while let Tok::Field(name) = &self.peek().tok {
            if fields.is_empty() {
                pos = self.peek().pos;
            }
            fields.push(name.clone());
            self.advance();
        }
        if fields.is_empty() {
            return Ok(Some(term));
        }
        Ok(Some(match term {
            Arg::Field { mut names, .. } => {
                names.extend(fields);
                Arg::Field { pos, names }
            }
            Arg::Variable {
                name,
                fields: mut own,
                ..
            } => {
                own.extend(fields);
                Arg::Variable {
                    pos,
                    name,
                    fields: own,
                }
            }
            Arg::Const { .. } | Arg::Dot(_) | Arg::Nil(_) => {
                return Err(self.error(format!("unexpected . after term {:?}", term.to_string())));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.tok {
            Tok::Ident(name) => {
                if !(self.has_function)(&name) {
                    return Err(self.error(format!("function {name:?} not defined")));
                }
                Arg::Ident { pos, name }
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Keyword(Keyword::Nil) => Arg::Nil(pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.error(format!("undefined variable {name:?}")));
                }
                Arg::Variable {
                    pos,
                    name,
                    fields: Vec::new(),
                }
            }
            Tok::Field(name) => Arg::Field {
                pos,
                names: vec![name],
            },
            Tok::Bool(b) => Arg::Const {
                pos,
                value: Value::Bool(b),
                text: b.to_string(),
            },
            Tok::Number(text) => {
                let value =
                    parse_number(&text).ok_or_else(|| self.error(format!("bad number syntax: {text:?}")))?;
                Arg::Const { pos, value, text }
            }
            Tok::Char(text) => {
                let c = unquote(&text)
                    .and_then(|s| {
                        let mut chars = s.chars();
                        chars.next().filter(|_| chars.next().is_none())
                    })
                    .ok_or_else(|| self.error(format!("malformed character constant: {text}")))?;
                Arg::Const {
                    pos,
                    value: Value::from(i64::from(u32::from(c))),
                    text,
                }
            }
            Tok::Str(s) => {
                let text = format!("{s:?}");
                Arg::Const {
                    pos,
                    value: Value::String(s),
                    text,
                }
            }
            Tok::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", &Tok::RightParen)?,
            )),
            _ => {
                self.next -= 1;
                return Ok(None);
            }
        }))
    }
}

/// A Go number literal: decimal, hex, octal or binary integers (with `_`), or a float.
fn parse_number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    let (negative, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = digits.to_ascii_lowercase();
    let int = if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Value::from(if negative { -i } else { i }));
    }
    let f: f64 = digits.parse().ok()?;
    let f = if negative { -f } else { f };
    serde_json::Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Tree {
        parse(text, &|name| name == "json" || name == "eq").unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, &|name| name == "json").unwrap_err().to_string()
    }

    #[test]
    fn actions_keep_their_source_form() {
        let tree = parse_ok(r#"{{ json .Mounts }} {{ $x := .A.B | json }}{{ (eq 1 2).X }}"#);
        let shown: Vec<String> = tree
            .root
            .iter()
            .filter_map(|n| match n {
                Node::Action(p) => Some(p.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(shown, vec!["json .Mounts", "$x := .A.B | json", "(eq 1 2).X"]);
    }

    #[test]
    fn else_if_chains_share_one_end() {
        let tree = parse_ok("{{if .A}}a{{else if .B}}b{{else}}c{{end}}");
        let Node::If(branch) = &tree.root[0] else {
            panic!("not an if")
        };
        let else_list = branch.else_list.as_ref().unwrap();
        assert!(matches!(else_list[0], Node::If(_)));
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            parse_err("{{table .ID}}"),
            "template: :1: function \"table\" not defined"
        );
        assert_eq!(parse_err("{{.Name}} {{end}}"), "template: :1: unexpected {{end}}");
        assert_eq!(parse_err("{{if .A}}"), "template: :1: unexpected EOF");
        assert_eq!(parse_err("{{$x}}"), "template: :1: undefined variable \"$x\"");
        assert_eq!(
            parse_err("{{break}}"),
            "template: :1: {{break}} outside {{range}}"
        );
        assert_eq!(parse_err("{{}}"), "template: :1: missing value for command");
    }

    #[test]
    fn range_variables_are_scoped() {
        parse_ok("{{range $k, $v := .}}{{$k}}{{$v}}{{end}}");
        assert_eq!(
            parse_err("{{range $v := .}}{{end}}{{$v}}"),
            "template: :1: undefined variable \"$v\""
        );
    }

    #[test]
    fn numbers_parse_like_go() {
        assert_eq!(parse_number("0x1F").unwrap().as_int(), Some(31));
        assert_eq!(parse_number("017").unwrap().as_int(), Some(15));
        assert_eq!(parse_number("-3").unwrap().as_int(), Some(-3));
        assert_eq!(parse_number("1.5").unwrap().to_string(), "1.5");
    }
}
