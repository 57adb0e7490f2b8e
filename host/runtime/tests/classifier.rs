//! Column classifiers in the runtime: the shipped `pii-classifier` proves
//! itself with its cases and answers; the live set exposes the enforcing
//! classifier; a misbehaving classifier fails closed, naming itself.
//!
//! Builds its guests (`pii-classifier`, `hostile-classifier`,
//! `significance-scorer`) for wasm32-wasip2, as the end-to-end harness does.

mod common;

use common::{cached_registry, policy, registry, repo, shipped, uploaded};
use steward_runtime::{ColumnSample, LoadError, PluginFailure, PluginSource, TrapCause, World};

fn sample(column: &str, values: &[&str]) -> ColumnSample {
    ColumnSample {
        table: "sales/customers".into(),
        column: column.into(),
        data_type: "text".into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

const HOSTILE_MANIFEST: &str = r#"
name = "hostile-classifier"
version = "6.6.6"
world = "classifier"
scope = ["sales/**"]
[limits]
timeout_ms = 20
"#;

const NOT_PII_CASE: &str = r#"
[[case]]
name = "benign column"
column = { table = "sales/orders", column = "region", data_type = "text", values = ["emea"] }
expect_tags = []
"#;

#[tokio::test]
async fn the_pii_classifier_proves_itself_and_is_the_live_classifier() {
    let (registry, policy) = (registry(), policy());
    assert!(registry.current().classifiers().next().is_none());
    let proven = registry.prove(shipped("pii-classifier"), &policy).await.expect("its cases pass");
    assert!(proven.outcomes.len() >= 12 && proven.outcomes.iter().all(|o| o.passed));
    assert_eq!(proven.plugin.world(), World::Classifier);
    registry.activate(proven).await;

    let set = registry.current();
    let classifier = set.classifiers().next().expect("the live classifier");
    assert_eq!(classifier.label(), "pii-classifier@1.0.0");
    assert!(set.classifier_for("hr/employees").is_some(), "its scope is every table");
    assert!(set.scorer_for("sales/customers").is_none(), "a classifier is not a scorer");

    let tags = classifier.classify(&sample("contact", &["ada@example.com", "grace@example.org"])).await.unwrap();
    assert_eq!(tags, ["pii", "email"]);
    let tags = classifier.classify(&sample("ref", &["4111 1111 1111 1111"])).await.unwrap();
    assert_eq!(tags, ["pii", "card-number"]);
    let tags = classifier.classify(&sample("region", &["emea", "amer"])).await.unwrap();
    assert!(tags.is_empty(), "{tags:?}");
}

#[tokio::test]
async fn a_classifier_version_with_a_failing_case_does_not_go_live() {
    let (registry, policy) = (registry(), policy());
    let mut source = shipped("pii-classifier");
    source.cases.push_str(
        "\n[[case]]\nname = \"wrong on purpose\"\ncolumn = { table = \"t\", column = \"region\", data_type = \"text\", values = [\"emea\"] }\nexpect_tags = [\"pii\", \"email\"]\n",
    );
    match registry.prove(source, &policy).await {
        Err(LoadError::CasesFailed(outcomes)) => {
            let failed: Vec<&str> = outcomes.iter().filter(|o| !o.passed).map(|o| o.name.as_str()).collect();
            assert_eq!(failed, ["wrong on purpose"]);
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a failing case was accepted"),
    }
    let mut source = shipped("pii-classifier");
    source.cases = "[[case]]\nname = \"no column\"\nexpect_tags = []\n".into();
    assert!(matches!(registry.prove(source, &policy).await, Err(LoadError::Cases(m)) if m.contains("needs a `column`")));
}

#[tokio::test]
async fn shadow_classifiers_are_not_chosen_and_scope_is_respected() {
    let (registry, policy) = (registry(), policy());
    let shadow = HOSTILE_MANIFEST.replace("[limits]", "mode = \"shadow\"\n[limits]");
    registry.activate(registry.prove(uploaded("hostile-classifier", &shadow, NOT_PII_CASE), &policy).await.unwrap()).await;
    assert!(registry.current().classifiers().next().is_none(), "a shadow classifier is not the classifier");

    registry.activate(registry.prove(uploaded("hostile-classifier", HOSTILE_MANIFEST, NOT_PII_CASE), &policy).await.unwrap()).await;
    let set = registry.current();
    assert_eq!(set.classifiers().next().map(|p| p.label()), Some("hostile-classifier@6.6.6"));
    assert!(set.classifier_for("sales/orders").is_some());
    assert!(set.classifier_for("hr/employees").is_none(), "outside its scope");
}

#[tokio::test]
async fn a_misbehaving_classifier_fails_closed_naming_itself() {
    let (registry, policy) = (registry(), policy());
    let proven = registry.prove(uploaded("hostile-classifier", HOSTILE_MANIFEST, NOT_PII_CASE), &policy).await.unwrap();
    let plugin = proven.plugin;
    let timeout = PluginFailure::CpuDeadline { budget_ms: 20 };
    let panicked = PluginFailure::Trap { during: "classify-column".into(), cause: TrapCause::Unreachable };
    for (column, failure) in [
        ("loop", Some(&timeout)),
        ("trap", Some(&panicked)),
        ("garbage", None),
        ("many", None),
        ("loop", Some(&timeout)),
    ] {
        let e = plugin.classify(&sample(column, &[])).await.expect_err(column);
        assert_eq!(e.plugin, "hostile-classifier@6.6.6");
        match failure {
            Some(expected) => assert_eq!(&e.failure, expected, "{column}: {e}"),
            None => assert_eq!(e.failure.kind(), "invalid_output", "{column}: {e}"),
        }
        assert!(e.to_string().contains("hostile-classifier@6.6.6"), "{e}");
        // The plugin still answers afterwards.
        assert_eq!(plugin.classify(&sample("region", &["emea"])).await.unwrap(), Vec::<String>::new(), "after {column}");
    }
    assert_eq!(plugin.classify(&sample("repeat", &[])).await.unwrap(), ["pii", "email"], "repeated tags are dropped");
    assert_eq!(plugin.failures(), 5);
}

#[tokio::test]
async fn calling_a_plugin_of_another_world_as_a_classifier_fails() {
    let (registry, policy) = (registry(), policy());
    let scorer = registry.prove(shipped("significance-scorer"), &policy).await.unwrap().plugin;
    let e = scorer.classify(&sample("email", &[])).await.expect_err("a scorer cannot classify");
    assert_eq!(e.failure.kind(), "wrong_world", "{e}");
}

/// The Python twin (plugins/pii-classifier-py, built by `make plugins` with
/// componentize-py) proves itself on the Rust classifier's cases, and tags
/// columns beyond them exactly like the Rust one.
#[tokio::test]
async fn the_python_twin_tags_columns_like_the_rust_classifier() {
    let policy = policy();
    let dir = repo().join("plugins/pii-classifier-py");
    let mut python = PluginSource::from_dir(&dir).unwrap_or_else(|e| panic!("{e} (run `make plugins`)"));
    python.signature = None;
    // One compile cache for the suite: an 18 MB component compiles once.
    let registry = cached_registry();
    let twin = registry.prove(python, &policy).await.expect("the Python twin passes the Rust classifier's cases").plugin;
    assert_eq!(twin.package_version.as_deref(), Some("0.2.0"));
    let rust = registry.prove(shipped("pii-classifier"), &policy).await.unwrap().plugin;
    let samples = [
        sample("contact_email", &[]),
        sample("notes", &["call me at +44 20 7946 0958", "x"]),
        sample("misc", &["123-45-6789", "987-65-4321"]),
        sample("amount", &["12.50", "99.00"]),
        sample("ip", &["10.0.0.1", "2001:db8::1", "::ffff:192.0.2.1"]),
        sample("payload", &["4111 1111 1111 1111", "5500-0000-0000-0004"]),
        sample("BirthDate", &[]),
        sample("dob_text", &["1990-02-31", "1985-07-14"]),
        sample("lastName", &[]),
        sample("street", &["221B Baker Street", "10 Downing St"]),
        sample("diagnosisCode", &["E11.9"]),
        sample("région", &["Île-de-France"]),
        sample("comment", &["", "", ""]),
        sample("user", &["alice@example.com", "not an email", ""]),
    ];
    for s in &samples {
        let want = rust.classify(s).await.unwrap();
        let got = twin.classify(s).await.unwrap();
        let (mut want_sorted, mut got_sorted) = (want.clone(), got.clone());
        want_sorted.sort();
        got_sorted.sort();
        assert_eq!(got_sorted, want_sorted, "column {:?} {:?}: Rust says {want:?}, Python {got:?}", s.column, s.values);
    }
}
