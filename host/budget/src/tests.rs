use std::sync::Arc;

use super::*;

fn charge(p: &str, rows: u64, pii: u64, queries: u64) -> Charge {
    Charge { principal: p.into(), limits: Limits { rows: Some(rows), pii_cells: Some(pii), queries: Some(queries) } }
}

#[test]
fn days() {
    assert_eq!(day_of(0), "1970-01-01");
    assert_eq!(day_of(1_795_219_200), "2026-11-21");
    assert_eq!(day_of(951_782_400), "2000-02-29");
}

#[test]
fn reserve_caps_rows_and_settle_charges_actuals() {
    let store = BudgetStore::in_memory().unwrap();
    let c = [charge("bot", 100, 10, 5)];
    let r = store.reserve_blocking("d", &c, Want { rows: 1000, pii_per_row: 1 }).unwrap().unwrap();
    assert_eq!((r.rows, r.pii_cells), (10, 10), "pii cells cap the rows");
    store.settle_blocking(&r, 4, 4).unwrap();
    let left = store.left_blocking("d", &c[0]).unwrap();
    assert_eq!(left, Left { rows: Some(96), pii_cells: Some(6), queries: Some(4) });
}

#[test]
fn settling_says_what_is_left_as_a_later_read_does() {
    let store = BudgetStore::in_memory().unwrap();
    let c = [charge("bot", 100, 10, 5), charge("alice", 50, 1000, 9)];
    let r = store.reserve_blocking("d", &c, Want { rows: 1000, pii_per_row: 1 }).unwrap().unwrap();
    let left = store.settle_and_left_blocking(&r, 4, 4, &c).unwrap();
    assert_eq!(left, vec![("bot".to_string(), store.left_blocking("d", &c[0]).unwrap()), ("alice".to_string(), store.left_blocking("d", &c[1]).unwrap())]);
    assert_eq!(left[0].1, Left { rows: Some(96), pii_cells: Some(6), queries: Some(4) });
    assert_eq!(left[1].1.queries, Some(8));
}

#[test]
fn agent_and_human_are_both_charged_and_the_tighter_wins() {
    let store = BudgetStore::in_memory().unwrap();
    let c = [charge("bot", 1000, 1000, 100), charge("alice", 30, 1000, 100)];
    let r = store.reserve_blocking("d", &c, Want { rows: 500, pii_per_row: 0 }).unwrap().unwrap();
    assert_eq!(r.rows, 30);
    store.settle_blocking(&r, 30, 0).unwrap();
    let e = store.reserve_blocking("d", &c, Want { rows: 1, pii_per_row: 0 }).unwrap().unwrap_err();
    assert_eq!(e, Exhausted { principal: "alice".into(), what: "rows" });
    assert_eq!(store.left_blocking("d", &c[0]).unwrap().rows, Some(970));
}

#[test]
fn a_new_day_is_a_new_budget_and_release_frees() {
    let store = BudgetStore::in_memory().unwrap();
    let c = [charge("bot", 10, 10, 1)];
    let r = store.reserve_blocking("d1", &c, Want { rows: 10, pii_per_row: 0 }).unwrap().unwrap();
    assert!(store.reserve_blocking("d1", &c, Want { rows: 1, pii_per_row: 0 }).unwrap().is_err());
    store.release_blocking(&r).unwrap();
    assert!(store.reserve_blocking("d1", &c, Want { rows: 1, pii_per_row: 0 }).unwrap().is_ok());
    assert!(store.reserve_blocking("d2", &c, Want { rows: 10, pii_per_row: 0 }).unwrap().is_ok());
}

#[test]
fn concurrent_reservations_never_overspend() {
    let store = Arc::new(BudgetStore::in_memory().unwrap());
    let c = Arc::new([charge("bot", 500, 1_000_000, 1_000)]);
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (store, c) = (store.clone(), c.clone());
            std::thread::spawn(move || {
                let mut got = 0;
                for _ in 0..20 {
                    if let Ok(r) = store.reserve_blocking("d", &*c, Want { rows: 7, pii_per_row: 0 }).unwrap() {
                        store.settle_blocking(&r, r.rows, 0).unwrap();
                        got += r.rows;
                    }
                }
                got
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 500, "every row of the budget is used, and not one more");
    assert_eq!(store.left_blocking("d", &c[0]).unwrap().rows, Some(0));
}

#[test]
fn unsettled_reservations_count_as_spent_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("budgets.db");
    let c = [charge("bot", 10, 10, 10)];
    {
        let store = BudgetStore::open(&path).unwrap();
        store.reserve_blocking("d", &c, Want { rows: 8, pii_per_row: 0 }).unwrap().unwrap();
    }
    let store = BudgetStore::open(&path).unwrap();
    assert_eq!(store.left_blocking("d", &c[0]).unwrap().rows, Some(2));
}

/// A transaction waiting on SQLite's lock must not hold the async worker:
/// on a one-thread runtime, a timer still fires while a reservation waits.
#[tokio::test(flavor = "current_thread")]
async fn a_waiting_transaction_leaves_the_async_worker_free() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("budgets.db");
    let store = BudgetStore::open(&path).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let reserving = tokio::spawn({
        let store = store.clone();
        async move { store.reserve("d", &[Charge { principal: "p".into(), limits: Limits { rows: Some(10), ..Limits::default() } }], Want { rows: 5, pii_per_row: 0 }).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!reserving.is_finished(), "the reservation waits for the lock, off the worker");
    other.execute_batch("COMMIT").unwrap();
    let reservation = reserving.await.unwrap().unwrap().unwrap();
    assert_eq!(reservation.rows, 5);
}
