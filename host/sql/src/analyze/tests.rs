//! Unit tests of name resolution on a small catalog. The large
//! table-driven suite is in `host/sql/tests/`.

use super::*;
use crate::schema::{Classification, ColumnDef, TableDef};

fn table(asset: &str, schema: &str, name: &str, columns: &[&str]) -> TableDef {
    TableDef {
        asset: asset.into(),
        schema: schema.into(),
        name: name.into(),
        columns: columns.iter().map(|c| ColumnDef { name: c.to_string(), data_type: "text".into(), tags: vec![], classification: Classification::Catalog }).collect(),
        tags: vec![],
        alternatives: vec![],
    }
}

fn schema() -> Schema {
    Schema::new(vec![
        table("sales/customers", "sales", "customers", &["customer_id", "name", "email", "region"]),
        table("sales/orders", "sales", "orders", &["order_id", "customer_id", "total"]),
    ])
}

fn run(sql: &str) -> Result<(QueryShape, String), AnalysisError> {
    let schema = schema();
    let mut statement = parse(Dialect::Postgres, sql)?;
    let shape = analyze(&schema, Dialect::Postgres, &mut statement, &NoHooks)?;
    Ok((shape, statement.to_string()))
}

fn outputs(shape: &QueryShape) -> Vec<String> {
    shape.tables.iter().flat_map(|t| t.columns.iter().filter(|(_, u)| u.output).map(move |(c, _)| format!("{}.{c}", t.sql_name))).collect()
}

#[test]
fn star_expands_and_qualifies() {
    let (shape, sql) = run("select * from customers").unwrap();
    assert_eq!(sql, "SELECT customers.customer_id, customers.name, customers.email, customers.region FROM sales.customers AS customers");
    assert_eq!(outputs(&shape).len(), 4);
}

#[test]
fn alias_in_cte_still_reaches_output() {
    let (shape, _) = run("with x as (select email as e from customers) select e from x").unwrap();
    assert_eq!(outputs(&shape), vec!["sales.customers.email"]);
}

#[test]
fn predicate_only_use() {
    let (shape, _) = run("select customer_id from sales.customers where email like '%@x'").unwrap();
    let t = &shape.tables[0];
    assert!(t.columns["email"].predicate && !t.columns["email"].output);
}

#[test]
fn correlated_subquery_is_a_join() {
    let (shape, _) = run("select name from customers c where exists (select 1 from orders o where o.customer_id = c.customer_id)").unwrap();
    assert_eq!(shape.joins.len(), 1);
    assert_eq!(shape.joins[0].keys, vec![("customer_id".to_string(), "customer_id".to_string())]);
}

#[test]
fn recursive_cte() {
    let (shape, _) = run("with recursive r(n, e) as (select 1, email from customers union all select n + 1, e from r where n < 3) select e from r").unwrap();
    assert_eq!(outputs(&shape), vec!["sales.customers.email"]);
}

#[test]
fn unknown_and_ambiguous() {
    assert!(matches!(run("select nope from customers"), Err(AnalysisError::UnknownColumn(_))));
    assert!(matches!(run("select customer_id from customers, orders"), Err(AnalysisError::Ambiguous(_))));
    assert!(matches!(run("select * from information_schema.columns"), Err(AnalysisError::SystemCatalog(_))));
    assert!(matches!(run("select 1; select 2"), Err(AnalysisError::NotOneStatement(_))));
    assert!(matches!(run("select \"EMAIL\" from customers"), Err(AnalysisError::UnknownColumn(_))));
}

#[test]
fn aggregation() {
    let (shape, _) = run("select region, count(email) from customers group by region").unwrap();
    assert!(shape.aggregated);
    let t = &shape.tables[0];
    assert!(t.columns["region"].group_key && t.columns["email"].aggregated && !t.columns["email"].output);
    let (shape, _) = run("select region, max(email) from customers group by region").unwrap();
    assert!(!shape.aggregated);
}
