//! The FHIRPath parser: text to a checked syntax tree.
//!
//! Hand-written (a lexer and a precedence-climbing parser) so that every limit is ours: nesting
//! is bounded (deep parentheses or a long `1+1+…` chain are a [`ParseError`], never a stack
//! overflow in parsing, evaluating or dropping the tree), and every function name and argument
//! count is checked here, so a policy is rejected when it is loaded rather than when a
//! resource reaches it.

use std::fmt;

use crate::value::{PartialDateTime, Value};

/// The deepest syntax tree accepted. Far beyond any real expression, far below stack limits.
pub const MAX_DEPTH: u32 = 96;

/// Why an expression does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct ParseError {
    /// Zero-based character (not byte) offset in the expression.
    pub position: usize,
    /// What is wrong, in plain words; quotes at most a short name from the expression.
    pub message: String,
}

/// A parsed FHIRPath expression, ready to evaluate any number of times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub(crate) root: Node,
}

/// Binary operators, in the specification's naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

/// The functions this implementation knows, with their argument counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Empty,
    Exists,
    All,
    AllTrue,
    AnyTrue,
    AllFalse,
    AnyFalse,
    Count,
    Distinct,
    IsDistinct,
    Where,
    Select,
    Repeat,
    OfType,
    As,
    Is,
    First,
    Last,
    Tail,
    Skip,
    Take,
    Single,
    Not,
    Iif,
    Union,
    Combine,
    Intersect,
    Exclude,
    SubsetOf,
    SupersetOf,
    Children,
    Descendants,
    ToString,
    ToInteger,
    ToDecimal,
    HasValue,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    ReplaceMatches,
    Replace,
    Substring,
    Length,
    Lower,
    Upper,
    IndexOf,
    Trim,
    NodesByType,
    NodesByName,
    Trace,
}

impl Func {
    /// Name → function and (min, max) argument count.
    fn lookup(name: &str) -> Option<(Func, usize, usize)> {
        use Func::*;
        Some(match name {
            "empty" => (Empty, 0, 0),
            "exists" => (Exists, 0, 1),
            "all" => (All, 1, 1),
            "allTrue" => (AllTrue, 0, 0),
            "anyTrue" => (AnyTrue, 0, 0),
            "allFalse" => (AllFalse, 0, 0),
            "anyFalse" => (AnyFalse, 0, 0),
            "count" => (Count, 0, 0),
            "distinct" => (Distinct, 0, 0),
            "isDistinct" => (IsDistinct, 0, 0),
            "where" => (Where, 1, 1),
            "select" => (Select, 1, 1),
            "repeat" => (Repeat, 1, 1),
            "ofType" => (OfType, 1, 1),
            "as" => (As, 1, 1),
            "is" => (Is, 1, 1),
            "first" => (First, 0, 0),
            "last" => (Last, 0, 0),
            "tail" => (Tail, 0, 0),
            "skip" => (Skip, 1, 1),
            "take" => (Take, 1, 1),
            "single" => (Single, 0, 0),
            "not" => (Not, 0, 0),
            "iif" => (Iif, 2, 3),
            "union" => (Union, 1, 1),
            "combine" => (Combine, 1, 1),
            "intersect" => (Intersect, 1, 1),
            "exclude" => (Exclude, 1, 1),
            "subsetOf" => (SubsetOf, 1, 1),
            "supersetOf" => (SupersetOf, 1, 1),
            "children" => (Children, 0, 0),
            "descendants" => (Descendants, 0, 0),
            "toString" => (ToString, 0, 0),
            "toInteger" => (ToInteger, 0, 0),
            "toDecimal" => (ToDecimal, 0, 0),
            "hasValue" => (HasValue, 0, 0),
            "startsWith" => (StartsWith, 1, 1),
            "endsWith" => (EndsWith, 1, 1),
            "contains" => (Contains, 1, 1),
            "matches" => (Matches, 1, 1),
            "replaceMatches" => (ReplaceMatches, 2, 2),
            "replace" => (Replace, 2, 2),
            "substring" => (Substring, 1, 2),
            "length" => (Length, 0, 0),
            "lower" => (Lower, 0, 0),
            "upper" => (Upper, 0, 0),
            "indexOf" => (IndexOf, 1, 1),
            "trim" => (Trim, 0, 0),
            "nodesByType" => (NodesByType, 1, 1),
            "nodesByName" => (NodesByName, 1, 1),
            "trace" => (Trace, 1, 2),
            _ => return None,
        })
    }

    /// Functions whose argument names a type rather than being evaluated.
    fn takes_type(self) -> bool {
        matches!(self, Func::OfType | Func::As | Func::Is)
    }
}

/// A node of the syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `{}`.
    Empty,
    Literal(Value),
    This,
    Index,
    Total,
    /// `%resource`, `%context`, `%rootResource`, `%ucum`, …
    Var(Box<str>),
    /// A name on the implicit focus: a child element, or a type filter at the head of a path.
    Ident(Box<str>),
    /// `target.name`.
    Member(Box<Node>, Box<str>),
    /// A function call; `None` target means the implicit focus.
    Call(Option<Box<Node>>, Func, Vec<Node>),
    /// `ofType(T)`, `as(T)`, `is(T)` and the `is`/`as` operators (`is_op` marks the operator
    /// forms, which work on a single item).
    TypeCall(Option<Box<Node>>, Func, Box<str>),
    Indexer(Box<Node>, Box<Node>),
    Negate(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
}

/// Parses a FHIRPath expression; unknown functions and wrong argument counts are errors.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let tokens = lex(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        src_len: src.chars().count(),
    };
    let (root, _) = p.expression(0)?;
    if let Some(t) = p.peek() {
        return Err(p.error_at(t.pos, format!("unexpected {}", t.kind.describe())));
    }
    Ok(Expr { root })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A backtick-delimited identifier: never a keyword.
    Delimited(String),
    Str(String),
    Number(String),
    Date(String),
    Var(String),
    Dollar(String),
    Sym(&'static str),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Delimited(s) => format!("name `{}`", short(s)),
            Tok::Str(_) => "string".into(),
            Tok::Number(_) => "number".into(),
            Tok::Date(_) => "date/time literal".into(),
            Tok::Var(s) => format!("variable `%{}`", short(s)),
            Tok::Dollar(s) => format!("`${}`", short(s)),
            Tok::Sym(s) => format!("`{s}`"),
        }
    }
}

/// Names from the expression are quoted only this long, so an error never carries much text.
fn short(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    pos: usize,
}

const SYMBOLS: [&str; 22] = [
    "<=", ">=", "!=", "!~", ".", "(", ")", "[", "]", "{", "}", ",", "+", "-", "*", "/", "&", "|",
    "=", "~", "<", ">",
];

fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, message: &str| ParseError {
        position: pos,
        message: message.into(),
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err(err(start, "unterminated comment"));
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        let kind = if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else if c == '`' {
            let (s, next) = quoted(&chars, i, '`')?;
            i = next;
            Tok::Delimited(s)
        } else if c == '\'' || c == '"' {
            let (s, next) = quoted(&chars, i, c)?;
            i = next;
            Tok::Str(s)
        } else if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            Tok::Number(chars[start..i].iter().collect())
        } else if c == '@' {
            i += 1;
            let body_start = i;
            i = scan_date(&chars, i);
            if i == body_start {
                return Err(err(start, "`@` must start a date, date-time or time"));
            }
            Tok::Date(chars[body_start..i].iter().collect())
        } else if c == '%' || c == '$' {
            i += 1;
            let name = if chars.get(i) == Some(&'`') || chars.get(i) == Some(&'\'') {
                let (s, next) = quoted(&chars, i, chars[i])?;
                i = next;
                s
            } else {
                let s = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                chars[s..i].iter().collect()
            };
            if name.is_empty() {
                return Err(err(start, "a name must follow `%` or `$`"));
            }
            if c == '%' {
                Tok::Var(name)
            } else {
                Tok::Dollar(name)
            }
        } else {
            let rest = |s: &str| {
                s.chars()
                    .enumerate()
                    .all(|(k, sc)| chars.get(i + k) == Some(&sc))
            };
            match SYMBOLS.iter().find(|s| rest(s)) {
                Some(s) => {
                    i += s.chars().count();
                    Tok::Sym(s)
                }
                None => return Err(err(start, "unexpected character")),
            }
        };
        out.push(Token { kind, pos: start });
    }
    Ok(out)
}

/// Reads a quoted string or delimited identifier starting at the opening quote.
fn quoted(chars: &[char], open: usize, q: char) -> Result<(String, usize), ParseError> {
    let mut i = open + 1;
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(ParseError {
                position: open,
                message: "unterminated string".into(),
            });
        };
        i += 1;
        if c == q {
            return Ok((s, i));
        }
        if c != '\\' {
            s.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else {
            return Err(ParseError {
                position: open,
                message: "unterminated string".into(),
            });
        };
        i += 1;
        match e {
            '\'' | '"' | '`' | '\\' | '/' => s.push(e),
            'f' => s.push('\u{c}'),
            'n' => s.push('\n'),
            'r' => s.push('\r'),
            't' => s.push('\t'),
            'u' => {
                let hex: String = chars
                    .get(i..i + 4)
                    .map(|h| h.iter().collect())
                    .unwrap_or_default();
                let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                match ch {
                    Some(ch) if hex.len() == 4 => {
                        s.push(ch);
                        i += 4;
                    }
                    _ => {
                        return Err(ParseError {
                            position: i - 2,
                            message: "`\\u` must be followed by four hex digits".into(),
                        })
                    }
                }
            }
            _ => {
                return Err(ParseError {
                    position: i - 2,
                    message: "unknown escape sequence".into(),
                })
            }
        }
    }
}

/// The end of a date/time literal body starting at `i` (just after `@`).
fn scan_date(chars: &[char], mut i: usize) -> usize {
    let is = |i: usize, f: fn(&char) -> bool| chars.get(i).is_some_and(f);
    let digit = |c: &char| c.is_ascii_digit();
    let time = |mut i: usize| {
        while chars
            .get(i)
            .is_some_and(|c| c.is_ascii_digit() || *c == ':' || *c == '.')
        {
            i += 1;
        }
        i
    };
    if chars.get(i) == Some(&'T') {
        return time(i + 1);
    }
    while is(i, digit) {
        i += 1;
    }
    while chars.get(i) == Some(&'-') && is(i + 1, digit) {
        i += 1;
        while is(i, digit) {
            i += 1;
        }
    }
    if chars.get(i) == Some(&'T') {
        i = time(i + 1);
        match chars.get(i) {
            Some('Z') => i += 1,
            Some('+' | '-')
                if is(i + 1, digit) && is(i + 2, digit) && chars.get(i + 3) == Some(&':') =>
            {
                i = time(i + 1);
            }
            _ => {}
        }
    }
    i
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: u32,
    src_len: usize,
}

fn binary_op(t: &Tok) -> Option<(BinOp, u8)> {
    // Precedence, higher binds tighter (the specification's table, inverted).
    Some(match t {
        Tok::Sym("*") => (BinOp::Mul, 10),
        Tok::Sym("/") => (BinOp::Div, 10),
        Tok::Ident(s) if s == "div" => (BinOp::IntDiv, 10),
        Tok::Ident(s) if s == "mod" => (BinOp::Mod, 10),
        Tok::Sym("+") => (BinOp::Add, 9),
        Tok::Sym("-") => (BinOp::Sub, 9),
        Tok::Sym("&") => (BinOp::Concat, 9),
        // 8: `is` / `as`, handled apart.
        Tok::Sym("|") => (BinOp::Union, 7),
        Tok::Sym("<") => (BinOp::Lt, 6),
        Tok::Sym("<=") => (BinOp::Le, 6),
        Tok::Sym(">") => (BinOp::Gt, 6),
        Tok::Sym(">=") => (BinOp::Ge, 6),
        Tok::Sym("=") => (BinOp::Eq, 5),
        Tok::Sym("!=") => (BinOp::Ne, 5),
        Tok::Sym("~") => (BinOp::Equiv, 5),
        Tok::Sym("!~") => (BinOp::NotEquiv, 5),
        Tok::Ident(s) if s == "in" => (BinOp::In, 4),
        Tok::Ident(s) if s == "contains" => (BinOp::Contains, 4),
        Tok::Ident(s) if s == "and" => (BinOp::And, 3),
        Tok::Ident(s) if s == "or" => (BinOp::Or, 2),
        Tok::Ident(s) if s == "xor" => (BinOp::Xor, 2),
        Tok::Ident(s) if s == "implies" => (BinOp::Implies, 1),
        _ => return None,
    })
}

const TYPE_OP_PREC: u8 = 8;
const CALENDAR_UNITS: [&str; 16] = [
    "year",
    "years",
    "month",
    "months",
    "week",
    "weeks",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "second",
    "seconds",
    "millisecond",
    "milliseconds",
];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self) -> Option<&Tok> {
        self.peek().map(|t| &t.kind)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.src_len, |t| t.pos)
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            position,
            message: message.into(),
        }
    }

    fn expect(&mut self, sym: &'static str) -> Result<(), ParseError> {
        match self.peek_kind() {
            Some(Tok::Sym(s)) if *s == sym => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(self.error_at(
                self.here(),
                format!("expected `{sym}`, found {}", t.describe()),
            )),
            None => Err(self.error_at(self.here(), format!("expected `{sym}`, found the end"))),
        }
    }

    fn check_depth(&self, depth: u32, at: usize) -> Result<u32, ParseError> {
        if depth > MAX_DEPTH {
            Err(self.error_at(
                at,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ))
        } else {
            Ok(depth)
        }
    }

    /// Precedence climbing; returns the node and its depth.
    fn expression(&mut self, min_prec: u8) -> Result<(Node, u32), ParseError> {
        self.depth += 1;
        let at = self.here();
        self.check_depth(self.depth, at)?;
        let result = self.expression_inner(min_prec);
        self.depth -= 1;
        result
    }

    fn expression_inner(&mut self, min_prec: u8) -> Result<(Node, u32), ParseError> {
        let (mut lhs, mut depth) = self.unary()?;
        while let Some(tok) = self.peek() {
            let at = tok.pos;
            if let Tok::Ident(word) = &tok.kind {
                if (word == "is" || word == "as") && TYPE_OP_PREC >= min_prec {
                    let func = if word == "is" { Func::Is } else { Func::As };
                    self.pos += 1;
                    let name = self.type_specifier()?;
                    depth = self.check_depth(depth + 1, at)?;
                    lhs = Node::TypeCall(Some(Box::new(lhs)), func, name.into());
                    continue;
                }
            }
            let Some((op, prec)) = binary_op(&tok.kind) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            let (rhs, rdepth) = self.expression(prec + 1)?;
            depth = self.check_depth(depth.max(rdepth) + 1, at)?;
            lhs = Node::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok((lhs, depth))
    }

    fn type_specifier(&mut self) -> Result<String, ParseError> {
        let mut name = self.identifier("a type name")?;
        while matches!(self.peek_kind(), Some(Tok::Sym("."))) {
            self.pos += 1;
            name.push('.');
            name.push_str(&self.identifier("a type name")?);
        }
        Ok(name)
    }

    fn identifier(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek_kind() {
            Some(Tok::Ident(s) | Tok::Delimited(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            Some(t) => Err(self.error_at(
                self.here(),
                format!("expected {what}, found {}", t.describe()),
            )),
            None => Err(self.error_at(self.here(), format!("expected {what}, found the end"))),
        }
    }

    fn unary(&mut self) -> Result<(Node, u32), ParseError> {
        let at = self.here();
        match self.peek_kind() {
            Some(Tok::Sym(sign @ ("-" | "+"))) => {
                let negate = *sign == "-";
                self.pos += 1;
                self.depth += 1;
                self.check_depth(self.depth, at)?;
                let inner = self.unary();
                self.depth -= 1;
                let (n, d) = inner?;
                if !negate {
                    return Ok((n, d));
                }
                let d = self.check_depth(d + 1, at)?;
                Ok((Node::Negate(Box::new(n)), d))
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<(Node, u32), ParseError> {
        let (mut node, mut depth) = self.primary()?;
        loop {
            let at = self.here();
            match self.peek_kind() {
                Some(Tok::Sym(".")) => {
                    self.pos += 1;
                    let name_at = self.here();
                    let name = self.identifier("a name or function after `.`")?;
                    let (n, d) = self.invocation(Some(node), depth, name, name_at)?;
                    node = n;
                    depth = d;
                }
                Some(Tok::Sym("[")) => {
                    self.pos += 1;
                    let (index, idepth) = self.expression(0)?;
                    self.expect("]")?;
                    depth = self.check_depth(depth.max(idepth) + 1, at)?;
                    node = Node::Indexer(Box::new(node), Box::new(index));
                }
                _ => break,
            }
        }
        Ok((node, depth))
    }

    /// A name or a function call, on `target` (or the implicit focus).
    fn invocation(
        &mut self,
        target: Option<Node>,
        depth: u32,
        name: String,
        at: usize,
    ) -> Result<(Node, u32), ParseError> {
        if !matches!(self.peek_kind(), Some(Tok::Sym("("))) {
            let depth = self.check_depth(depth + 1, at)?;
            return Ok(match target {
                Some(t) => (Node::Member(Box::new(t), name.into()), depth),
                None => (Node::Ident(name.into()), depth),
            });
        }
        self.pos += 1;
        let Some((func, min, max)) = Func::lookup(&name) else {
            return Err(self.error_at(at, format!("unknown function `{}`", short(&name))));
        };
        let mut args = Vec::new();
        let mut depth = depth;
        if !matches!(self.peek_kind(), Some(Tok::Sym(")"))) {
            loop {
                let (arg, d) = self.expression(0)?;
                depth = depth.max(d);
                args.push(arg);
                if matches!(self.peek_kind(), Some(Tok::Sym(","))) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.error_at(
                at,
                format!(
                    "function `{name}` takes {expected} argument(s), not {}",
                    args.len()
                ),
            ));
        }
        let depth = self.check_depth(depth + 1, at)?;
        let target = target.map(Box::new);
        if func.takes_type() {
            let type_name = args
                .first()
                .and_then(type_name_of)
                .ok_or_else(|| self.error_at(at, format!("function `{name}` needs a type name")))?;
            return Ok((Node::TypeCall(target, func, type_name.into()), depth));
        }
        Ok((Node::Call(target, func, args), depth))
    }

    fn primary(&mut self) -> Result<(Node, u32), ParseError> {
        let at = self.here();
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error_at(at, "expected an expression, found the end"));
        };
        self.pos += 1;
        let node =
            match tok.kind {
                Tok::Sym("(") => {
                    let (inner, d) = self.expression(0)?;
                    self.expect(")")?;
                    return Ok((inner, d));
                }
                Tok::Sym("{") => {
                    self.expect("}")?;
                    Node::Empty
                }
                Tok::Str(s) => Node::Literal(Value::String(s)),
                Tok::Number(text) => self.number(&text, at)?,
                Tok::Date(text) => Node::Literal(date_literal(&text).ok_or_else(|| {
                    self.error_at(at, "not a valid date, date-time or time literal")
                })?),
                Tok::Var(name) => Node::Var(name.into()),
                Tok::Dollar(name) => match name.as_str() {
                    "this" => Node::This,
                    "index" => Node::Index,
                    "total" => Node::Total,
                    _ => return Err(self.error_at(at, format!("unknown `${}`", short(&name)))),
                },
                Tok::Ident(name) if name == "true" => Node::Literal(Value::Boolean(true)),
                Tok::Ident(name) if name == "false" => Node::Literal(Value::Boolean(false)),
                Tok::Ident(name) | Tok::Delimited(name) => {
                    return self.invocation(None, 0, name, at);
                }
                other => {
                    return Err(self.error_at(at, format!("unexpected {}", other.describe())));
                }
            };
        Ok((node, 1))
    }

    fn number(&mut self, text: &str, at: usize) -> Result<Node, ParseError> {
        let value: f64 = text
            .parse()
            .map_err(|_| self.error_at(at, "not a number"))?;
        // A number followed by a unit string or a calendar keyword is a quantity.
        let unit = match self.peek_kind() {
            Some(Tok::Str(u)) => Some(u.clone()),
            Some(Tok::Ident(u)) if CALENDAR_UNITS.contains(&u.as_str()) => Some(u.clone()),
            _ => None,
        };
        if let Some(unit) = unit {
            self.pos += 1;
            return Ok(Node::Literal(Value::Quantity { value, unit }));
        }
        if text.contains('.') {
            Ok(Node::Literal(Value::Decimal(value)))
        } else {
            text.parse::<i64>()
                .map(|i| Node::Literal(Value::Integer(i)))
                .map_err(|_| self.error_at(at, "integer literal out of range"))
        }
    }
}

/// The type name an argument of `ofType`/`is`/`as` spells: `Quantity`, `FHIR.Quantity`.
fn type_name_of(node: &Node) -> Option<String> {
    match node {
        Node::Ident(n) => Some(n.to_string()),
        Node::Member(inner, n) => match inner.as_ref() {
            Node::Ident(ns) => Some(format!("{ns}.{n}")),
            _ => None,
        },
        _ => None,
    }
}

fn date_literal(text: &str) -> Option<Value> {
    if let Some(time) = text.strip_prefix('T') {
        return PartialDateTime::parse_time(time).map(Value::Time);
    }
    let v = PartialDateTime::parse_date_time(text, true)?;
    Some(if text.contains('T') {
        Value::DateTime(v)
    } else {
        Value::Date(v)
    })
}

impl Expr {
    /// The first type name in `is`/`as`/`ofType` that `model` does not know.
    pub(crate) fn unknown_type_name(&self, model: &crate::model::TypeModel) -> Option<String> {
        fn visit(n: &Node, model: &crate::model::TypeModel) -> Option<String> {
            let known = |t: &str| {
                const SYSTEM: [&str; 8] = [
                    "Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time",
                    "Quantity",
                ];
                match t.strip_prefix("System.") {
                    Some(sys) => SYSTEM.contains(&sys),
                    None => model.knows_type(t) || SYSTEM.contains(&t),
                }
            };
            match n {
                Node::TypeCall(target, _, t) => {
                    if !known(t) {
                        return Some(t.to_string());
                    }
                    target.as_deref().and_then(|t| visit(t, model))
                }
                Node::Member(t, _) | Node::Negate(t) => visit(t, model),
                Node::Indexer(a, b) | Node::Binary(_, a, b) => {
                    visit(a, model).or_else(|| visit(b, model))
                }
                Node::Call(target, _, args) => target
                    .as_deref()
                    .and_then(|t| visit(t, model))
                    .or_else(|| args.iter().find_map(|a| visit(a, model))),
                _ => None,
            }
        }
        visit(&self.root, model)
    }
}

impl fmt::Display for Expr {
    /// A compact rendering of the tree, for diagnostics and tests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).root
    }

    fn lit_i(i: i64) -> Box<Node> {
        Box::new(Node::Literal(Value::Integer(i)))
    }

    #[test]
    fn precedence_multiplication_over_addition_over_comparison() {
        assert_eq!(
            p("1 + 2 * 3 < 4 and true"),
            Node::Binary(
                BinOp::And,
                Box::new(Node::Binary(
                    BinOp::Lt,
                    Box::new(Node::Binary(
                        BinOp::Add,
                        lit_i(1),
                        Box::new(Node::Binary(BinOp::Mul, lit_i(2), lit_i(3)))
                    )),
                    lit_i(4)
                )),
                Box::new(Node::Literal(Value::Boolean(true)))
            )
        );
    }

    #[test]
    fn left_associative_and_union_binds_tighter_than_in() {
        assert_eq!(
            p("1 - 2 - 3"),
            Node::Binary(
                BinOp::Sub,
                Box::new(Node::Binary(BinOp::Sub, lit_i(1), lit_i(2))),
                lit_i(3)
            )
        );
        let n = p("$this in ('a' | 'b')");
        assert!(matches!(n, Node::Binary(BinOp::In, ref l, ref r)
            if **l == Node::This && matches!(**r, Node::Binary(BinOp::Union, _, _))));
        let n = p("('a' | 'b') contains $this");
        assert!(matches!(n, Node::Binary(BinOp::Contains, _, ref r) if **r == Node::This));
        // `or` is looser than `and`, `implies` loosest.
        let n = p("a or b and c implies d");
        assert!(matches!(n, Node::Binary(BinOp::Implies, ref l, _)
            if matches!(**l, Node::Binary(BinOp::Or, _, ref r) if matches!(**r, Node::Binary(BinOp::And, _, _)))));
    }

    #[test]
    fn literals() {
        assert_eq!(
            p("@2020-01-01"),
            Node::Literal(date_literal("2020-01-01").unwrap())
        );
        let Node::Literal(Value::DateTime(dt)) = p("@2020-01-01T00:00:00Z") else {
            panic!("not a date-time")
        };
        assert_eq!((dt.year, dt.offset_minutes), (2020, Some(0)));
        assert!(
            matches!(p("@2020-01-01T10:00:00+02:00"), Node::Literal(Value::DateTime(d)) if d.offset_minutes == Some(120))
        );
        assert!(matches!(p("@T10:30"), Node::Literal(Value::Time(_))));
        assert_eq!(
            p("5 'mg'"),
            Node::Literal(Value::Quantity {
                value: 5.0,
                unit: "mg".into()
            })
        );
        assert_eq!(
            p("3 days"),
            Node::Literal(Value::Quantity {
                value: 3.0,
                unit: "days".into()
            })
        );
        assert_eq!(p("1.5"), Node::Literal(Value::Decimal(1.5)));
        assert_eq!(p("-20"), Node::Negate(lit_i(20)));
        assert_eq!(
            p(r"'it\'s \u00e9\n\\'"),
            Node::Literal(Value::String("it's é\n\\".into()))
        );
        assert_eq!(p("{}"), Node::Empty);
        assert_eq!(p("`div`"), Node::Ident("div".into()));
    }

    #[test]
    fn invocations_and_type_operators() {
        assert!(
            matches!(p("Patient.nodesByType('HumanName').use"), Node::Member(ref t, ref n)
            if &**n == "use" && matches!(**t, Node::Call(Some(_), Func::NodesByType, _)))
        );
        assert!(matches!(p("FamilyMemberHistory.condition.onset as Age"),
            Node::TypeCall(Some(_), Func::As, ref t) if &**t == "Age"));
        assert!(matches!(p("value.ofType(FHIR.Quantity)"),
            Node::TypeCall(Some(_), Func::OfType, ref t) if &**t == "FHIR.Quantity"));
        assert!(matches!(
            p("1.repeat($this)"),
            Node::Call(Some(_), Func::Repeat, _)
        ));
        assert!(matches!(
            p("$this.substring(0,3)+'****'"),
            Node::Binary(BinOp::Add, _, _)
        ));
        assert!(
            matches!(p("name[0].given"), Node::Member(ref t, _) if matches!(**t, Node::Indexer(_, _)))
        );
    }

    #[test]
    fn errors_have_positions_and_no_long_echo() {
        let e = parse("name.frobnicate()").unwrap_err();
        assert_eq!(e.position, 5);
        assert!(e.message.contains("unknown function `frobnicate`"), "{e}");
        let e = parse("name.where()").unwrap_err();
        assert!(e.message.contains("takes 1 argument"), "{e}");
        assert_eq!(parse("a +").unwrap_err().position, 3);
        assert_eq!(parse("'abc").unwrap_err().position, 0);
        assert!(parse("a b").is_err());
        let long = "x".repeat(5000);
        let e = parse(&format!("{long}()")).unwrap_err();
        assert!(e.to_string().len() < 200);
        assert!(parse("@").is_err());
        assert!(parse("@2020-13-01").is_err());
        assert!(parse("$that").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
        let chain = vec!["1"; 50_000].join("+");
        assert!(parse(&chain).is_err());
        let path = vec!["a"; 50_000].join(".");
        assert!(parse(&path).is_err());
        let neg = format!("{}1", "-".repeat(50_000));
        assert!(parse(&neg).is_err());
        assert!(parse(&vec!["1"; 50].join("+")).is_ok());
    }
}
