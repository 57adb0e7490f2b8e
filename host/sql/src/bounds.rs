//! How much SQL the host will look at, checked before anything walks the
//! tree.
//!
//! sqlparser builds a chain of binary operators (`1 + 1 + ...`, `a AND b
//! AND ...`, `a || b || ...`) or set operations (`SELECT 1 UNION SELECT 1
//! ...`) in a loop, so its own recursion limit (which bounds parentheses,
//! CASE and function calls) does not bound how deep the resulting tree is.
//! Everything after the parser recurses on that tree: analysis, the
//! rewrite, printing it back to SQL, even dropping it. A few thousand
//! chained operators overflow a worker's stack and abort the process.
//!
//! So [`check_tokens`] estimates, from the token stream alone and without
//! recursion, an upper bound of the tree's depth, and refuses what is too
//! deep before the parser builds anything. The estimate counts, per
//! bracket group, the operators of its deepest comma-separated item (each
//! one can add at most one level) plus the set operations of the whole
//! group, plus the estimate of the deepest group nested in it. Operators
//! are symbols, infix keywords (AND, IS, LIKE, COLLATE, ...), CASE, JOIN
//! (PostgreSQL's grammar nests `a JOIN b JOIN c` without ON), and a `[`
//! right after an expression (subscripts, array types `int[][]`); the
//! `<...>` of a type (`STRUCT<a INT, b INT>`) groups like parentheses. It
//! over-counts (an operator inside a deep item counts even where it does
//! not nest); it is meant never to under-count, and the shape tests
//! (`host/sql/tests/bounds.rs`) and the `sql` fuzz target hold it to that.
//!
//! [`STACK_BYTES`] is the stack the host runs SQL on (the server's worker
//! threads). It is chosen with [`MAX_NESTING`]: the test
//! `deepest_accepted_queries_fit_the_stack` runs the whole analysis ->
//! rewrite -> re-analysis path on the deepest query of each shape that is
//! accepted, on a thread with this stack, in a debug build (which needs far
//! more stack than release).

use sqlparser::dialect::Dialect as ParserDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::AnalysisError;

/// Bytes of SQL text in one statement (queries and policy SQL).
pub const MAX_SQL_BYTES: usize = 128 * 1024;
/// Estimated nesting depth of one statement (see the module docs).
pub const MAX_NESTING: usize = 256;
/// How much deeper than [`MAX_NESTING`] the host's own rewrite of an
/// accepted statement may be (masks, row filters and governed sources
/// wrap what was asked).
pub const REWRITE_HEADROOM: usize = 64;
/// Set operations (UNION, INTERSECT, EXCEPT) in one statement: at most
/// this many plus one branches.
pub const MAX_SET_OPERATIONS: usize = 64;
/// Items in one SELECT list (after `*` expansion).
pub const MAX_SELECT_ITEMS: usize = 1_000;
/// Items in all the SELECT lists of one statement (after `*` expansion):
/// CTEs that each expand `*` over a wide one multiply.
pub const MAX_STATEMENT_ITEMS: usize = 10_000;
/// Tables joined in one FROM clause (comma-separated or JOINed).
pub const MAX_JOINS: usize = 64;
/// Values in one `IN (...)` list.
pub const MAX_IN_LIST: usize = 10_000;
/// The stack the server's worker threads have, where SQL is analyzed and
/// rewritten. The deepest accepted statements of every shape need between
/// 1 and 3 MiB in a debug build (less in release): 16 MiB leaves a margin
/// of five. Only what a thread touches is ever committed.
pub const STACK_BYTES: usize = 16 * 1024 * 1024;

fn too_complex(what: String) -> AnalysisError {
    AnalysisError::TooComplex(what)
}

/// `count` of `what` (e.g. "items in one SELECT list") against `limit`.
pub(crate) fn at_most(count: usize, limit: usize, what: &str) -> Result<(), AnalysisError> {
    if count > limit { Err(too_complex(format!("{count} {what}; the limit is {limit}"))) } else { Ok(()) }
}

/// Keywords that can continue an expression with one more level
/// (sqlparser's infix operators, and CASE, whose nesting is written
/// without brackets).
fn deepens(keyword: Keyword) -> bool {
    matches!(
        keyword,
        Keyword::AND
            | Keyword::OR
            | Keyword::XOR
            | Keyword::NOT
            | Keyword::IS
            | Keyword::NOTNULL
            | Keyword::IN
            | Keyword::BETWEEN
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::SIMILAR
            | Keyword::REGEXP
            | Keyword::RLIKE
            | Keyword::GLOB
            | Keyword::MATCH
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::OVERLAPS
            | Keyword::DIV
            | Keyword::MEMBER
            | Keyword::OPERATOR
            | Keyword::ESCAPE
            | Keyword::CASE
            // Without ON, `a JOIN b JOIN c ...` nests to the right in
            // PostgreSQL's grammar (sqlparser recurses per JOIN).
            | Keyword::JOIN
            | Keyword::APPLY
    )
}

/// Type names whose `<...>` holds more types (`STRUCT<a INT, b INT>`): the
/// angle brackets group like parentheses, so their commas do not end the
/// item around them.
fn opens_angle(keyword: Keyword) -> bool {
    matches!(keyword, Keyword::STRUCT | Keyword::ARRAY | Keyword::MAP | Keyword::UNION | Keyword::NESTED | Keyword::TUPLE | Keyword::ROW)
}

fn set_operation(keyword: Keyword) -> bool {
    matches!(keyword, Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT | Keyword::MINUS)
}

/// One open bracket group while scanning.
#[derive(Default)]
struct Group {
    /// Opened by `<` after a type name, closed by `>`.
    angle: bool,
    /// Operators in the current comma-separated item.
    item_ops: usize,
    /// The deepest nested group seen in the current item.
    item_child: usize,
    /// The deepest item so far.
    deepest_item: usize,
    /// Set operations anywhere in the group.
    set_ops: usize,
}

impl Group {
    fn end_item(&mut self) {
        self.deepest_item = self.deepest_item.max(self.item_ops + self.item_child);
        self.item_ops = 0;
        self.item_child = 0;
    }

    /// The group's estimated depth, counting the bracket itself.
    fn depth(mut self) -> usize {
        self.end_item();
        self.deepest_item + self.set_ops + 1
    }
}

/// How large and deep a statement may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Within {
    pub bytes: usize,
    pub nesting: usize,
}

impl Within {
    /// What callers (and policy files) send.
    pub const REQUEST: Within = Within { bytes: MAX_SQL_BYTES, nesting: MAX_NESTING };
    /// What the host writes from an accepted statement.
    pub const REWRITE: Within = Within { bytes: 2 * MAX_SQL_BYTES, nesting: MAX_NESTING + REWRITE_HEADROOM };
}

/// Tokenize `sql` and check its size and estimated depth; the tokens are
/// what the parser then reads.
pub fn check_tokens(dialect: &dyn ParserDialect, sql: &str, within: Within) -> Result<Vec<TokenWithSpan>, AnalysisError> {
    if sql.len() > within.bytes {
        return Err(too_complex(format!("the statement is {} bytes; the limit is {}", sql.len(), within.bytes)));
    }
    let tokens = Tokenizer::new(dialect, sql).tokenize_with_location().map_err(|e| AnalysisError::Unparsable(e.to_string()))?;
    let estimate = estimate(tokens.iter().map(|t| &t.token));
    if estimate.set_operations > MAX_SET_OPERATIONS {
        return Err(too_complex(format!(
            "{} set operations (UNION, INTERSECT, EXCEPT) in one statement; the limit is {MAX_SET_OPERATIONS}",
            estimate.set_operations
        )));
    }
    if estimate.depth > within.nesting {
        return Err(too_complex(format!(
            "the statement nests or chains operators about {} deep; the limit is {}: split long chains of AND/OR/+/|| (an IN list, fewer terms) or run it in parts",
            estimate.depth, within.nesting
        )));
    }
    Ok(tokens)
}

/// What [`estimate`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// An upper bound of the tree's depth, in operator levels.
    pub depth: usize,
    pub set_operations: usize,
}

/// Estimate a token stream's depth in one pass, without recursion.
pub fn estimate<'a>(tokens: impl IntoIterator<Item = &'a Token>) -> Estimate {
    let mut stack: Vec<Group> = vec![Group::default()];
    let mut set_operations = 0usize;
    // Whether the last token was a type name that may open `<...>`.
    let mut type_name = false;
    let close = |stack: &mut Vec<Group>| {
        if stack.len() > 1 {
            let depth = stack.pop().map(Group::depth).unwrap_or(0);
            if let Some(parent) = stack.last_mut() {
                parent.item_child = parent.item_child.max(depth);
            }
        }
    };
    for token in tokens {
        if matches!(token, Token::Whitespace(_)) {
            continue;
        }
        let after_type_name = std::mem::replace(&mut type_name, false);
        let Some(group) = stack.last_mut() else { break };
        match token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::Lt if after_type_name => {
                group.item_ops += 1;
                stack.push(Group { angle: true, ..Group::default() });
            }
            Token::Gt | Token::ShiftRight if group.angle => {
                close(&mut stack);
                if matches!(token, Token::ShiftRight) && stack.last().is_some_and(|g| g.angle) {
                    close(&mut stack);
                }
            }
            // A bracket right after an expression (a subscript, an array
            // type's `[]`) is one more level of its item.
            Token::LParen | Token::LBracket | Token::LBrace => {
                if matches!(token, Token::LBracket) {
                    group.item_ops += 1;
                }
                stack.push(Group::default());
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                // Close any `<` left open inside, then the bracket; an
                // unbalanced closing bracket is the parser's to refuse.
                while stack.len() > 1 && stack.last().is_some_and(|g| g.angle) {
                    close(&mut stack);
                }
                close(&mut stack);
            }
            // A second statement is refused later; it does not add to the
            // first one's items.
            Token::Comma | Token::SemiColon => group.end_item(),
            Token::Word(w) if w.quote_style.is_none() && set_operation(w.keyword) => {
                set_operations += 1;
                group.set_ops += 1;
            }
            Token::Word(w) if w.quote_style.is_none() && deepens(w.keyword) => group.item_ops += 1,
            Token::Word(w) if w.quote_style.is_none() && opens_angle(w.keyword) => type_name = true,
            // Names, numbers and literals of every kind are leaves; a
            // dotted name is one flat node.
            Token::Word(_)
            | Token::Number(..)
            | Token::Period
            | Token::Placeholder(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_) => {}
            // Every other token is an operator that can add a level.
            _ => group.item_ops += 1,
        }
    }
    // Close what is left open (the parser refuses it, but only after
    // building the tree): the estimate holds either way.
    let mut depth = 0;
    while let Some(mut group) = stack.pop() {
        group.item_child = group.item_child.max(depth);
        depth = group.depth();
    }
    Estimate { depth, set_operations }
}
