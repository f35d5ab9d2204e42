//! Run a parsed template on a [`Value`], with Go's rules: how fields resolve on maps, structs
//! and rows, how variables are scoped, how `range` walks maps (sorted keys) and what prints.

use super::funcs::{Func, FuncTable, Param};
use super::parse::{Arg, Branch, Command, Node, Pipe};
use super::{ExecError, Template};
use crate::format::value::{NilKind, Object, ObjectKind, Value};

/// Deeper `{{template}}` nesting than this is a runaway recursion. Go allows 100000 on its
/// growable stacks; a fixed thread stack holds far fewer, and no real format nests this deep.
const MAX_DEPTH: usize = 100;

/// What a list of nodes asks its enclosing `range` to do.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The state of one execution.
pub struct Exec<'a> {
    template: &'a Template,
    funcs: &'a FuncTable,
    /// The output so far; kept on error, as Go's writer keeps what it got.
    pub out: String,
    /// Variables in scope, innermost last.
    vars: Vec<(String, Value)>,
    /// The template being executed, for messages (`executing "name"`).
    name: String,
    depth: usize,
    /// The data is Engine API JSON rather than a list row.
    raw_json: bool,
}

impl<'a> Exec<'a> {
    pub fn new(template: &'a Template, funcs: &'a FuncTable) -> Self {
        Exec {
            template,
            funcs,
            out: String::new(),
            vars: Vec::new(),
            name: String::new(),
            depth: 0,
            raw_json: true,
        }
    }

    /// Run the template's body on `data`.
    pub fn run(&mut self, data: &Value) -> Result<(), ExecError> {
        self.vars = vec![("$".to_string(), data.clone())];
        self.raw_json = !matches!(
            data,
            Value::Object(Object {
                kind: ObjectKind::Row(_),
                ..
            })
        );
        let root = &self.template.tree.root;
        self.walk_list(data, root).map(|_| ())
    }

    fn error(&self, pos: usize, at: impl ToString, message: impl Into<String>) -> ExecError {
        let (line, col) = self.template.line_col(pos);
        ExecError {
            name: self.name.clone(),
            line,
            col,
            at: at.to_string(),
            message: message.into(),
        }
    }

    fn walk_list(&mut self, dot: &Value, nodes: &'a [Node]) -> Result<Flow, ExecError> {
        for node in nodes {
            match self.walk(dot, node)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> Result<Flow, ExecError> {
        match node {
            Node::Text(text) => self.out.push_str(text),
            Node::Action(pipe) => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.out.push_str(&value.to_string());
                }
            }
            Node::If(branch) | Node::With(branch) => {
                return self.walk_if_or_with(dot, branch, matches!(node, Node::With(_)));
            }
            Node::Range(branch) => return self.walk_range(dot, branch),
            Node::Template { pos, name, pipe } => self.walk_template(dot, *pos, name, pipe.as_ref())?,
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, dot: &Value, branch: &'a Branch, is_with: bool) -> Result<Flow, ExecError> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let flow = if value.is_true() {
            let new_dot = if is_with { &value } else { dot };
            self.walk_list(new_dot, &branch.list)?
        } else if let Some(else_list) = &branch.else_list {
            self.walk_list(dot, else_list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Value, branch: &'a Branch) -> Result<Flow, ExecError> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v.clone()))
                .collect(),
            // Go ranges over maps in key order; a row is a struct and cannot be ranged.
            Value::Object(o) if !matches!(o.kind, ObjectKind::Row(_)) => o
                .sorted_entries()
                .into_iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect(),
            Value::Missing | Value::Nil(_) => Vec::new(),
            other => {
                return Err(self.error(
                    branch.pipe.pos,
                    &branch.pipe,
                    format!("range can't iterate over {other}"),
                ));
            }
        };
        if items.is_empty() {
            let flow = match &branch.else_list {
                Some(else_list) => self.walk_list(dot, else_list)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(flow);
        }
        let decl = &branch.pipe.decl;
        for (key, elem) in items {
            let iteration_mark = self.vars.len();
            match decl.len() {
                0 => {}
                1 => self.set_var(&decl[0], elem.clone()),
                _ => {
                    self.set_var(&decl[0], key);
                    self.set_var(&decl[1], elem.clone());
                }
            }
            let flow = self.walk_list(&elem, &branch.list)?;
            self.vars.truncate(iteration_mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> Result<(), ExecError> {
        let Some(body) = self.template.defined(name) else {
            return Err(self.error(
                pos,
                format!("template {name:?}"),
                format!("no such template {name:?}"),
            ));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                pos,
                format!("template {name:?}"),
                format!("exceeded maximum template depth ({MAX_DEPTH})"),
            ));
        }
        let new_dot = match pipe {
            Some(pipe) => self.eval_pipeline(dot, pipe)?,
            None => Value::Nil(NilKind::Pointer),
        };
        let outer_vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
        let outer_name = std::mem::replace(&mut self.name, name.to_string());
        self.depth += 1;
        let result = self.walk_list(&new_dot, body);
        self.depth -= 1;
        self.vars = outer_vars;
        self.name = outer_name;
        result.map(|_| ())
    }

    /// Set a variable: the innermost one of that name if it exists, else declare it.
    fn set_var(&mut self, name: &str, value: Value) {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_string(), value)),
        }
    }

    fn var(&self, pos: usize, name: &str) -> Result<Value, ExecError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(pos, name, format!("undefined variable: {name}")))
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, ExecError> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Missing);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, last: Option<Value>) -> Result<Value, ExecError> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, names } => {
                return self.eval_fields(dot, dot.clone(), *pos, first, names, &cmd.args[1..], last);
            }
            Arg::Chain { pos, node, fields } => {
                let receiver = self.eval_arg(dot, node)?;
                return self.eval_fields(dot, receiver, *pos, first, fields, &cmd.args[1..], last);
            }
            Arg::Ident { pos, name } => {
                return self.eval_function(dot, *pos, &cmd.to_string(), name, &cmd.args[1..], last);
            }
            Arg::Variable { pos, name, fields } => {
                let value = self.var(*pos, name)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, &last)?;
                    return Ok(value);
                }
                return self.eval_fields(dot, value, *pos, first, fields, &cmd.args[1..], last);
            }
            _ => {}
        }
        self.not_a_function(cmd, &last)?;
        match first {
            Arg::Pipe(pipe) => self.eval_pipeline(dot, pipe),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(pos) => Err(self.error(*pos, first, "nil is not a command")),
            Arg::Const { value, .. } => Ok(value.clone()),
            _ => unreachable!("handled above"),
        }
    }

    fn not_a_function(&self, cmd: &Command, last: &Option<Value>) -> Result<(), ExecError> {
        if cmd.args.len() > 1 || last.is_some() {
            let first = &cmd.args[0];
            return Err(self.error(
                first.pos(),
                first,
                format!("can't give argument to non-function {first}"),
            ));
        }
        Ok(())
    }

    /// Evaluate an operand used as an argument.
    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> Result<Value, ExecError> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil(NilKind::Pointer)),
            Arg::Const { value, .. } => Ok(value.clone()),
            Arg::Field { pos, names } => self.eval_fields(dot, dot.clone(), *pos, arg, names, &[], None),
            Arg::Variable { pos, name, fields } => {
                let value = self.var(*pos, name)?;
                self.eval_fields(dot, value, *pos, arg, fields, &[], None)
            }
            Arg::Chain { pos, node, fields } => {
                let receiver = self.eval_arg(dot, node)?;
                self.eval_fields(dot, receiver, *pos, arg, fields, &[], None)
            }
            Arg::Pipe(pipe) => self.eval_pipeline(dot, pipe),
            Arg::Ident { pos, name } => self.eval_function(dot, *pos, name, name, &[], None),
        }
    }

    /// Walk `.A.B.C` from `receiver`; the last name gets the arguments (a method call).
    #[allow(clippy::too_many_arguments)]
    fn eval_fields(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        pos: usize,
        node: &Arg,
        names: &[String],
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Value, ExecError> {
        let Some((final_name, path)) = names.split_last() else {
            return Ok(receiver);
        };
        for name in path {
            if let Value::Object(o) = &receiver
                && o.kind == ObjectKind::Struct
                && o.get(name).is_none()
            {
                // Docker's typed run stops at the omitted field's nil; its raw rerun has no such key.
                return Err(self.error(pos, node, format!("map has no entry for key {name:?}")));
            }
            receiver = self.eval_field(dot, &receiver, pos, node, name, &[], None)?;
        }
        self.eval_field(dot, &receiver, pos, node, final_name, args, last)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Value,
        receiver: &Value,
        pos: usize,
        node: &Arg,
        name: &str,
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Value, ExecError> {
        let has_args = !args.is_empty() || last.is_some();
        let object = match receiver {
            Value::Object(o) => o,
            // Go: a missing map entry has no fields, and yields no value again.
            Value::Missing | Value::Nil(NilKind::Map) => return Ok(Value::Missing),
            Value::Nil(_) => {
                return Err(self.error(pos, node, format!("nil pointer evaluating interface {{}}.{name}")));
            }
            other => {
                // Inspect data is Docker's raw JSON, whose values are `interface {}`.
                let type_name = if self.raw_json {
                    "interface {}".to_string()
                } else {
                    other.go_type()
                };
                let message = format!("can't evaluate field {name} in type {type_name}");
                return Err(self.error(pos, node, message));
            }
        };
        match object.get(name) {
            Some(Value::Method(method)) => {
                let mut values = Vec::with_capacity(args.len() + 1);
                for arg in args {
                    values.push(self.eval_arg(dot, arg)?);
                }
                values.extend(last);
                method
                    .call(&values)
                    .map_err(|e| self.error(pos, node, format!("error calling {name}: {e}")))
            }
            Some(_) if has_args => {
                let message = match object.kind {
                    ObjectKind::Row(_) => {
                        let count = args.len() + usize::from(last.is_some());
                        format!("wrong number of args for {name}: want 0 got {count}")
                    }
                    // Docker's raw-JSON fallback sees maps.
                    _ => format!("{name} is not a method but has arguments"),
                };
                Err(self.error(pos, node, message))
            }
            Some(value) => Ok(value.clone()),
            None => self.missing_field(object, pos, node, name),
        }
    }

    fn missing_field(&self, object: &Object, pos: usize, node: &Arg, name: &str) -> Result<Value, ExecError> {
        match object.kind {
            ObjectKind::Map => Ok(Value::Missing),
            // Docker's inspect falls back to raw JSON maps with missingkey=error.
            ObjectKind::Struct => match object.omitted_field(name) {
                Some(zero) => Ok(zero),
                None => Err(self.error(pos, node, format!("map has no entry for key {name:?}"))),
            },
            ObjectKind::Row(type_name) => Err(self.error(
                pos,
                node,
                format!("can't evaluate field {name} in type {type_name}"),
            )),
        }
    }

    /// Call function `name`; `at` is the command shown in error messages.
    fn eval_function(
        &mut self,
        dot: &Value,
        pos: usize,
        at: &str,
        name: &str,
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Value, ExecError> {
        // Go evaluates `and` and `or` lazily: stop at the first operand that decides.
        if name == "and" || name == "or" {
            return self.eval_and_or(dot, pos, at, name, args, last);
        }
        let Some(func) = self.funcs.get(name) else {
            return Err(self.error(pos, at, format!("{name:?} is not a defined function")));
        };
        let values = self.eval_call_args(dot, pos, at, name, func, args, last)?;
        (func.call)(&values).map_err(|e| self.error(pos, at, format!("error calling {name}: {e}")))
    }

    fn eval_and_or(
        &mut self,
        dot: &Value,
        pos: usize,
        at: &str,
        name: &str,
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Value, ExecError> {
        let count = args.len() + usize::from(last.is_some());
        if count < 1 {
            return Err(self.error(
                pos,
                at,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let want = name == "or";
        let mut value = Value::Missing;
        for arg in args {
            value = self.eval_arg(dot, arg)?;
            if value.is_true() == want {
                return Ok(value);
            }
        }
        Ok(last.unwrap_or(value))
    }

    /// Evaluate and type-check a function's arguments as Go's reflection call does.
    #[allow(clippy::too_many_arguments)]
    fn eval_call_args(
        &mut self,
        dot: &Value,
        pos: usize,
        at: &str,
        name: &str,
        func: &Func,
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Vec<Value>, ExecError> {
        let count = args.len() + usize::from(last.is_some());
        let fixed = func.params.len();
        let count_ok = match func.variadic {
            Some(_) => count >= fixed,
            None => count == fixed,
        };
        if !count_ok {
            let want = match func.variadic {
                Some(_) => format!("at least {fixed}"),
                None => fixed.to_string(),
            };
            return Err(self.error(
                pos,
                at,
                format!("wrong number of args for {name}: want {want} got {count}"),
            ));
        }
        let param_at = |i: usize| {
            func.params
                .get(i)
                .copied()
                .or(func.variadic)
                .unwrap_or(Param::Any)
        };
        let mut values = Vec::with_capacity(count);
        for (i, arg) in args.iter().enumerate() {
            let value = self.eval_arg(dot, arg)?;
            let constant = matches!(arg, Arg::Const { .. });
            check_param(param_at(i), &value, constant).map_err(|m| self.error(arg.pos(), arg, m))?;
            values.push(value);
        }
        if let Some(value) = last {
            check_param(param_at(args.len()), &value, false).map_err(|m| self.error(pos, at, m))?;
            values.push(value);
        }
        Ok(values)
    }
}

/// Check one argument against a Go parameter type, with Go's messages.
fn check_param(param: Param, value: &Value, constant: bool) -> Result<(), String> {
    let (ok, expected) = match param {
        Param::Any => return Ok(()),
        Param::Str => (matches!(value, Value::String(_)), "string"),
        Param::Int => (value.as_int().is_some(), "int"),
        Param::Strings => (
            match value {
                Value::Array(items) => items.iter().all(|v| matches!(v, Value::String(_))),
                Value::Nil(NilKind::Slice) => true,
                _ => false,
            },
            "[]string",
        ),
    };
    if ok {
        return Ok(());
    }
    if matches!(value, Value::Missing) {
        return Err(format!("invalid value; expected {expected}"));
    }
    if constant {
        let found = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        let expected = if expected == "int" { "integer" } else { expected };
        return Err(format!("expected {expected}; found {found}"));
    }
    Err(format!(
        "wrong type for value; expected {expected}; got {}",
        value.go_type()
    ))
}
