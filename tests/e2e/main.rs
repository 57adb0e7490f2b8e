//! End-to-end tests: each starts the real `steward` binary and speaks HTTP
//! to it.

mod harness;

mod access;
mod alternatives;
mod audit;
mod boundary;
mod decide;
mod hostile;
mod mcp;
mod openapi;
mod query;
mod plugins;
mod reload;
mod shadow;
mod swap;
mod tokens;
mod tools;
mod trust;
