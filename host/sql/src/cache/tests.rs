use std::path::Path;

use steward_policy::{Policy, PrincipalRecord};

use super::PlanCache;
use crate::plan::{Mode, Plan, Viewer};
use crate::schema::{Dialect, Schema};

fn fixture() -> (Policy, Schema) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy");
    let policy = Policy::load_dir(&dir).expect("the fixture policy loads");
    let schema = Schema::from_policy(&policy);
    (policy, schema)
}

/// Prepare, plan and enforce `sql` for `viewer` through `cache`; the
/// rewritten SQL or the refusal.
fn run(cache: &PlanCache, policy: &Policy, schema: &Schema, generation: u64, viewer: &Viewer, sql: &str) -> Result<String, String> {
    let prepared = cache.prepare(schema, Dialect::Postgres, sql);
    let prepared = prepared.as_ref().as_ref().map_err(|e| e.to_string())?;
    let plan = Plan::build(schema, policy, viewer, prepared.shape.table_ids(), Mode::Full, Dialect::Postgres).map_err(|v| v.message)?;
    let enforced = cache.enforce(sql, prepared, schema, policy, generation, viewer, &plan, Some(100));
    enforced.as_ref().as_ref().map(|e| e.sql.clone()).map_err(|r| r.to_string())
}

fn record<'p>(policy: &'p Policy, id: &str) -> &'p PrincipalRecord {
    policy.principal(id).unwrap_or_else(|| panic!("{id} is in the fixture"))
}

#[test]
fn a_hit_is_what_the_miss_computed_and_is_counted() {
    let (policy, schema) = fixture();
    let cache = PlanCache::default();
    let analyst = Viewer { subjects: vec![record(&policy, "analyst")] };
    let sql = "select region, count(*) from customers group by region";
    let cold = run(&cache, &policy, &schema, 1, &analyst, sql);
    let warm = run(&cache, &policy, &schema, 1, &analyst, sql);
    assert!(cold.as_ref().is_ok_and(|s| s.contains("region = 'emea'")), "{cold:?}");
    assert_eq!(cold, warm);
    let stats = cache.stats();
    assert_eq!((stats.prepared.misses, stats.prepared.hits), (1, 1), "{stats:?}");
    assert_eq!((stats.enforced.misses, stats.enforced.hits), (1, 1), "{stats:?}");
    // A refusal is kept too, and given back the same.
    let denied = "select phone from customers";
    let first = run(&cache, &policy, &schema, 1, &analyst, denied);
    assert!(first.as_ref().is_err_and(|e| e.contains("conditions only")), "{first:?}");
    assert_eq!(first, run(&cache, &policy, &schema, 1, &analyst, denied));
    assert_eq!(cache.stats().enforced.hits, 2);
}

#[test]
fn viewers_share_entries_by_their_rules_not_their_names() {
    let (policy, schema) = fixture();
    let cache = PlanCache::default();
    let sql = "select name, region from customers";
    let analyst = record(&policy, "analyst");
    let twin = PrincipalRecord { id: "analyst-2".into(), ..analyst.clone() };
    run(&cache, &policy, &schema, 1, &Viewer { subjects: vec![analyst] }, sql).expect("allowed");
    run(&cache, &policy, &schema, 1, &Viewer { subjects: vec![&twin] }, sql).expect("allowed");
    assert_eq!(cache.stats().enforced.hits, 1, "same roles and attributes: one entry");

    // Another attribute the row filter reads is another plan.
    let elsewhere = PrincipalRecord { attributes: [("region".to_string(), "apac".to_string())].into(), ..analyst.clone() };
    let theirs = run(&cache, &policy, &schema, 1, &Viewer { subjects: vec![&elsewhere] }, sql);
    let stats = cache.stats();
    assert_eq!((stats.enforced.hits, stats.enforced.misses), (1, 2), "{stats:?} {theirs:?}");

    // The agent acting for the analyst has stricter rules: a miss, and its own answer.
    let bot = Viewer { subjects: vec![record(&policy, "bot"), analyst] };
    let agent = run(&cache, &policy, &schema, 1, &bot, sql).expect("allowed, name redacted");
    assert!(agent.contains("redacted"), "{agent}");
    assert_eq!(cache.stats().enforced.misses, 3);
}

#[test]
fn a_new_generation_empties_the_cache() {
    let (policy, schema) = fixture();
    let cache = PlanCache::default();
    let analyst = Viewer { subjects: vec![record(&policy, "analyst")] };
    let sql = "select region from customers";
    run(&cache, &policy, &schema, 1, &analyst, sql).expect("allowed");
    run(&cache, &policy, &schema, 2, &analyst, sql).expect("allowed");
    assert_eq!(cache.stats().enforced.misses, 2, "another policy generation is another key");
    assert_eq!(cache.stats().enforced.entries, 1, "the old generation's entry is gone");
    let rebuilt = Schema::from_policy(&policy);
    assert_ne!(rebuilt.generation(), schema.generation());
    run(&cache, &policy, &rebuilt, 2, &analyst, sql).expect("allowed");
    let stats = cache.stats();
    assert_eq!((stats.prepared.misses, stats.enforced.misses), (2, 3), "{stats:?}");
}

#[test]
fn the_cache_stays_within_its_bytes() {
    let (policy, schema) = fixture();
    let max = 256 << 10;
    let cache = PlanCache::new(max);
    let analyst = Viewer { subjects: vec![record(&policy, "analyst")] };
    for i in 0..2_000 {
        let sql = format!("select region from customers where customer_id = {i} or name = '{}'", "x".repeat(200));
        run(&cache, &policy, &schema, 1, &analyst, &sql).expect("allowed");
    }
    let stats = cache.stats();
    assert!(stats.bytes <= max, "{stats:?}");
    assert!(stats.enforced.entries > 0 && stats.enforced.entries < 2_000, "{stats:?}");
}

#[test]
fn nothing_is_kept_in_a_cache_of_no_bytes() {
    let (policy, schema) = fixture();
    let cache = PlanCache::new(0);
    let analyst = Viewer { subjects: vec![record(&policy, "analyst")] };
    let a = run(&cache, &policy, &schema, 1, &analyst, "select region from customers");
    let b = run(&cache, &policy, &schema, 1, &analyst, "select region from customers");
    assert_eq!(a, b);
    assert_eq!(cache.stats().enforced.hits, 0);
    assert_eq!(cache.stats().bytes, 0);
}

#[test]
fn wide_shapes_are_weighed_by_what_they_hold() {
    let (_, schema) = fixture();
    let max = 1 << 20;
    let cache = PlanCache::new(max);
    let stars = vec!["*"; 100].join(", ");
    for i in 0..200 {
        // 100 stars over a wide table: a short text, a shape of hundreds of columns.
        let sql = format!("select {stars} from customers where customer_id = {i}");
        let _ = cache.prepare(&schema, Dialect::Postgres, &sql);
    }
    let stats = cache.stats();
    assert!(stats.bytes <= max, "{stats:?}");
    assert!(stats.prepared.entries < 200, "a wide shape weighs more than its text: {stats:?}");
}

#[test]
fn a_request_on_an_older_generation_does_not_empty_the_cache() {
    let (policy, schema) = fixture();
    let cache = PlanCache::default();
    let analyst = Viewer { subjects: vec![record(&policy, "analyst")] };
    run(&cache, &policy, &schema, 5, &analyst, "select region from customers").expect("allowed");
    run(&cache, &policy, &schema, 4, &analyst, "select region from customers").expect("allowed");
    run(&cache, &policy, &schema, 5, &analyst, "select region from customers").expect("allowed");
    assert_eq!(cache.stats().enforced.hits, 1, "the newer generation's entry survived the older request: {:?}", cache.stats());
}
