use serde::Serialize;

/// Why a statement could not be analyzed. Every one of these is a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", content = "message", rename_all = "kebab-case")]
pub enum AnalysisError {
    #[error("the query does not parse: {0}")]
    Unparsable(String),
    #[error("{0}")]
    NotOneStatement(String),
    #[error("unknown table {0}")]
    UnknownTable(String),
    #[error("unknown column {0}")]
    UnknownColumn(String),
    #[error("ambiguous name {0}")]
    Ambiguous(String),
    #[error("system catalog {0} may not be read")]
    SystemCatalog(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Over one of the bounds in [`crate::bounds`].
    #[error("the query is too complex: {0}")]
    TooComplex(String),
    #[error("function {0} is not allowed")]
    FunctionNotAllowed(String),
}
