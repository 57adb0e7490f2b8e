//! The functions a query may call. Anything not listed here is refused:
//! engines ship functions that read files, sleep, or change settings.

/// What a function does to the values it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    /// A row-by-row function: its value reveals its arguments.
    Scalar,
    /// An aggregate that hides single values (count, sum, avg...).
    HidingAggregate,
    /// An aggregate that returns one of its inputs (min, max, string_agg...).
    RevealingAggregate,
    /// A window-only function (row_number, lag...).
    Window,
}

const HIDING_AGGREGATES: &[&str] = &[
    "count", "sum", "avg", "total", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr", "covar_pop",
    "covar_samp", "bool_and", "bool_or", "every", "count_if", "regr_count", "regr_slope", "regr_intercept",
];

/// Aggregates that pack many values into one cell (group_concat,
/// string_agg, array_agg, json_agg...) are not allowed at all: budgets
/// count rows and cells, and a packed cell would carry a whole column.
const REVEALING_AGGREGATES: &[&str] = &["min", "max", "any_value", "mode", "median", "percentile_cont", "percentile_disc", "bit_and", "bit_or"];

const WINDOW_FUNCTIONS: &[&str] = &[
    "row_number", "rank", "dense_rank", "ntile", "lag", "lead", "first_value", "last_value", "nth_value", "percent_rank", "cume_dist",
];

const SCALAR_FUNCTIONS: &[&str] = &[
    // numbers
    "abs", "round", "ceil", "ceiling", "floor", "trunc", "sign", "sqrt", "power", "pow", "exp", "ln", "log", "log10", "mod", "greatest",
    "least", "random", "rand", "div",
    // text
    "lower", "upper", "length", "char_length", "character_length", "octet_length", "substr", "substring", "trim", "ltrim", "rtrim", "btrim",
    "replace", "concat", "concat_ws", "instr", "position", "strpos", "left", "right", "lpad", "rpad", "reverse", "initcap", "split_part",
    "printf", "format", "hex", "unicode", "char", "chr", "ascii", "like", "glob", "quote", "regexp_replace", "starts_with", "md5",
    "sha256", "encode", "convert_to",
    // null handling and types
    "coalesce", "nullif", "ifnull", "iif", "typeof", "cast", "nvl",
    // dates
    "date", "time", "datetime", "julianday", "unixepoch", "strftime", "date_trunc", "date_part", "extract", "now", "current_date",
    "current_timestamp", "age", "to_char", "to_date", "to_timestamp", "make_date",
    // grouping sets: which keys a row rolls up (names keys, returns no value)
    "grouping",
    // Steward's own mask helper (registered on the SQLite warehouse)
    "steward_hash",
];

pub fn kind(name: &str) -> Option<FunctionKind> {
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    if HIDING_AGGREGATES.contains(&name) {
        Some(FunctionKind::HidingAggregate)
    } else if REVEALING_AGGREGATES.contains(&name) {
        Some(FunctionKind::RevealingAggregate)
    } else if WINDOW_FUNCTIONS.contains(&name) {
        Some(FunctionKind::Window)
    } else if SCALAR_FUNCTIONS.contains(&name) {
        Some(FunctionKind::Scalar)
    } else {
        None
    }
}

/// Functions whose value is random: ORDER BY one of these samples.
pub fn is_random(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "random" | "rand")
}
