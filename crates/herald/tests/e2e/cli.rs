use crate::common::*;
use serde_json::Value;
use std::io::Write;
use tempfile::TempDir;

#[test]
fn init_prints_credentials_once_and_refuses_an_existing_store() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("store");
    let o = run(&["init", "--data", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let creds: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(creds["write_key"].as_str().unwrap().len() >= 32);
    assert!(creds["admin_token"].as_str().unwrap().len() >= 32);
    assert_eq!(stdout(&o).lines().count(), 1);
    // Only a hash of the admin token is on disk.
    let db = std::fs::read(dir.join("herald.db")).unwrap();
    let token = creds["admin_token"].as_str().unwrap().as_bytes();
    assert!(!db.windows(token.len()).any(|w| w == token));

    let again = run(&["init", "--data", dir.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let o = run(&[
        "init",
        "--data",
        tmp.path().join("b").to_str().unwrap(),
        "--write-key",
        "k1",
        "--admin-token",
        "t1",
    ]);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
        serde_json::json!({"write_key": "k1", "admin_token": "t1"})
    );
}

#[test]
fn stats_and_import_need_a_store() {
    let tmp = TempDir::new().unwrap();
    let missing = tmp.path().join("nothing");
    let o = run(&["stats", "--data", missing.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("herald init"), "{}", stderr(&o));
    let o = run(&["import", "-", "--data", missing.to_str().unwrap()]);
    assert!(!o.status.success());
}

#[test]
fn cdnow_imports_with_the_shipped_mapping() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("cdnow");
    init(&dir);
    let file = shared_dataset("cdnow/CDNOW_sample.txt");
    let mapping = repo_file("examples/cdnow.toml");
    let o = run(&[
        "import",
        file.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--data",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(summary["imported"], 6919);
    assert_eq!(summary["rejected"], 0);
    let o = run(&["stats", "--data", dir.to_str().unwrap()]);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
        serde_json::json!({"events": 6919, "profiles": 2357})
    );
    // Again: nothing new.
    let o = run(&[
        "import",
        file.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--data",
        dir.to_str().unwrap(),
    ]);
    let summary: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (summary["imported"].as_u64(), summary["duplicates"].as_u64()),
        (Some(0), Some(6919))
    );
}

#[test]
fn ndjson_import_reports_bad_lines_and_keeps_the_rest() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    init(&dir);
    let mut child = herald()
        .args(["import", "-", "--data", dir.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"type":"track","userId":"u1","event":"A","timestamp":"2024-01-01T00:00:00Z"}
{"type":"track","event":"no id"}
not json at all

{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}
{"type":"track","userId":"u2","event":"B","timestamp":"yesterday"}
"#,
        )
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["rejected"], 3);
    assert_eq!(
        summary["rejected_by_reason"]["missing_id"]["lines"],
        serde_json::json!([2])
    );
    assert_eq!(
        summary["rejected_by_reason"]["invalid_json"]["lines"],
        serde_json::json!([3])
    );
    assert_eq!(
        summary["rejected_by_reason"]["bad_timestamp"]["lines"],
        serde_json::json!([6])
    );
}

#[test]
fn generate_is_deterministic_per_seed() {
    let generate = |seed: &str| {
        run(&[
            "generate",
            "--profiles",
            "30",
            "--days",
            "10",
            "--seed",
            seed,
            "--end",
            "2025-01-01T00:00:00Z",
        ])
    };
    let (a, b, c) = (generate("5"), generate("5"), generate("6"));
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    assert!(stdout(&a).lines().count() > 100);
    let bad = run(&["generate", "--profiles", "3", "--end", "soon"]);
    assert!(!bad.status.success());
}

#[test]
fn a_running_server_owns_its_store() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    init(&dir);
    let server = Server::start(&dir);
    let o = run(&["import", "-", "--data", dir.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("in use by another Herald process"),
        "{}",
        stderr(&o)
    );
    // Reading beside it is fine.
    let o = run(&["stats", "--data", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    server.stop();
    let o = run(&["import", "/dev/null", "--data", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn demo_builds_a_shop_without_serving() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("demo");
    let o = run(&[
        "demo",
        "--data",
        dir.to_str().unwrap(),
        "--profiles",
        "60",
        "--days",
        "20",
        "--no-serve",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("admin token"), "{out}");
    let stats: Value =
        serde_json::from_str(&stdout(&run(&["stats", "--data", dir.to_str().unwrap()]))).unwrap();
    assert!(stats["events"].as_u64().unwrap() > 500, "{stats}");
    assert!(stats["profiles"].as_u64().unwrap() >= 30, "{stats}");
}
