//! The audit file's layout and its migrations.
//!
//! An audit file is an SQLite database whose header carries Lantern's application id
//! ([`APPLICATION_ID`], `PRAGMA application_id`) and the schema version (`PRAGMA user_version`).
//! A new file is built by running every migration from an empty database, so the steps that
//! upgrade old files are the same ones that build new files. A step never rewrites what an
//! annotator recorded; it adds tables and columns and fills them from what is already there.
//!
//! - v1: `meta` (settings as key/value text), `classes`, `images` (dataset order, relative file,
//!   ground-truth class and boxes, image size) and `verdicts`.
//! - v2: each verdict names its annotator (so merged audits keep who decided what; v1 verdicts get
//!   the audit's annotator), an index of verdicts by image, `predictions` (the model's class, boxes
//!   and IoU per image, cached by the app so filters work before an image is judged) and
//!   `agreement` (the statistics `lantern audit merge` measured).

use rusqlite::{Connection, Transaction};

/// The version this Lantern writes; files with a larger `user_version` are refused.
pub const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id` of audit files: "LNAU" in ASCII.
pub(crate) const APPLICATION_ID: i64 = 0x4C4E_4155;

/// Tables a current audit file has.
pub(crate) const TABLES: [&str; 6] = ["meta", "classes", "images", "verdicts", "predictions", "agreement"];

/// `MIGRATIONS[v]` takes a file from version `v` to `v + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // v0 -> v1: the first layout.
    "PRAGMA application_id = 1280196949;
     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE classes (idx INTEGER PRIMARY KEY, name TEXT NOT NULL);
     CREATE TABLE images (
         id TEXT PRIMARY KEY,
         position INTEGER NOT NULL UNIQUE,
         file TEXT NOT NULL,
         class INTEGER,
         width INTEGER,
         height INTEGER,
         boxes TEXT NOT NULL
     );
     CREATE TABLE verdicts (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         image_id TEXT NOT NULL REFERENCES images(id),
         time TEXT NOT NULL,
         verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'reject', 'flag')),
         iou REAL,
         predicted_class INTEGER,
         predicted_boxes TEXT NOT NULL,
         corrected_box TEXT,
         comment TEXT NOT NULL DEFAULT ''
     );",
    // v1 -> v2: per-verdict annotator, predictions cache, merge agreement.
    "ALTER TABLE verdicts ADD COLUMN annotator TEXT NOT NULL DEFAULT '';
     UPDATE verdicts SET annotator = COALESCE((SELECT value FROM meta WHERE key = 'annotator'), '');
     CREATE INDEX verdicts_by_image ON verdicts(image_id, id);
     CREATE TABLE predictions (
         image_id TEXT PRIMARY KEY REFERENCES images(id),
         class INTEGER,
         boxes TEXT NOT NULL,
         iou REAL,
         time TEXT NOT NULL
     );
     CREATE TABLE agreement (
         rater_a TEXT NOT NULL,
         rater_b TEXT NOT NULL,
         images INTEGER NOT NULL,
         agreed INTEGER NOT NULL,
         kappa REAL,
         kappa_images INTEGER NOT NULL,
         mean_iou REAL,
         iou_images INTEGER NOT NULL,
         PRIMARY KEY (rater_a, rater_b)
     );",
];

/// What the header and the catalogue say about a database, read without writing anything.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub application_id: i64,
    pub version: i64,
    pub tables: Vec<String>,
}

/// Read the header fields and the table names.
pub(crate) fn inspect(conn: &Connection) -> rusqlite::Result<Header> {
    let (application_id, version) = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?;
    let tables = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Header { application_id, version, tables })
}

/// The schema version, read inside a transaction.
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT user_version FROM pragma_user_version", [], |r| r.get(0))
}

/// Run the steps from version `from` to `to` and record `to` in the header, all inside `tx`.
pub(crate) fn migrate(tx: &Transaction, from: i64, to: i64) -> rusqlite::Result<()> {
    assert!(
        0 <= from && from <= to && to <= SCHEMA_VERSION,
        "migration {from} -> {to} is outside 0..={SCHEMA_VERSION}"
    );
    for step in &MIGRATIONS[from as usize..to as usize] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_application_id_in_the_first_step_is_the_constant() {
        assert!(MIGRATIONS[0].contains(&format!("application_id = {APPLICATION_ID};")));
        assert_eq!(&APPLICATION_ID.to_be_bytes()[4..], b"LNAU");
    }

    #[test]
    fn every_step_builds_the_current_tables_from_an_empty_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        migrate(&tx, 0, SCHEMA_VERSION).unwrap();
        tx.commit().unwrap();
        let h = inspect(&conn).unwrap();
        assert_eq!((h.application_id, h.version), (APPLICATION_ID, SCHEMA_VERSION));
        let mut want: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        want.sort();
        assert_eq!(h.tables, want);
    }

    #[test]
    fn a_failing_step_leaves_the_version_where_it_was() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        migrate(&tx, 0, 1).unwrap();
        tx.commit().unwrap();
        // A table the v2 step creates already exists: the step fails and rolls back whole.
        conn.execute_batch("CREATE TABLE predictions (x INTEGER)").unwrap();
        let tx = conn.transaction().unwrap();
        assert!(migrate(&tx, 1, 2).is_err());
        drop(tx);
        assert_eq!(version(&conn).unwrap(), 1);
        let cols: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('verdicts') WHERE name = 'annotator'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(cols, 0, "the ALTER TABLE of the failed step was rolled back");
    }
}
