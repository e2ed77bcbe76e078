//! The audit file: opening (identity, version, integrity and migration checks before anything is
//! written), recording verdicts one committed transaction at a time, and the queries an audit
//! view needs (latest verdict per image, progress, filters, the next image to judge).
//!
//! Durability: write-ahead logging with `synchronous=FULL`, so the log is fsynced before a commit
//! returns and a verdict whose id was handed out survives a power cut. Concurrency: every write
//! opens an `IMMEDIATE` transaction (the write lock is taken up front, so SQLite's busy handler
//! can wait for it instead of failing a read-to-write upgrade), waits up to
//! [`Patience::timeout`] for it, retries [`Patience::retries`] times with growing pauses and then
//! gives up with [`AuditError::Busy`]; nothing is half-written either way.

use super::rows::{ImageEntry, PairAgreement};
use super::schema::{self, APPLICATION_ID, SCHEMA_VERSION, TABLES};
use super::setup::{ModelRef, Settings, Setup};
pub use super::status::{Filter, ImageStatus, MissingFile, Origin, Patience, Prediction, Progress};
use super::verdict::{
    NewVerdict, Verdict, VerdictId, box_from_json, box_to_json, boxes_from_json, boxes_to_json, checked_annotator,
};
use super::{AuditError, Result};
use crate::datasets::Format;
use crate::explain::Method;
use crate::map::PixelBox;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use web_time::{Duration, Instant};

/// The current UTC time as SQLite writes it into rows: RFC 3339 with milliseconds.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// An open audit file.
pub struct Audit {
    conn: Connection,
    path: PathBuf,
    patience: Patience,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Audit {
    /// Create a new audit file at `path`, which must not exist.
    pub fn create(path: &Path, setup: &Setup) -> Result<Audit> {
        Self::create_with(path, setup, |_| Ok(()))
    }

    /// Create a new audit file and run `extra` in the same transaction as the setup. The file is
    /// built under a temporary name and linked to `path` only when complete, so an interrupted
    /// creation leaves nothing at `path` and an existing file there is never replaced.
    pub(crate) fn create_with(
        path: &Path,
        setup: &Setup,
        extra: impl FnOnce(&Transaction) -> rusqlite::Result<()>,
    ) -> Result<Audit> {
        if path.symlink_metadata().is_ok() {
            return Err(AuditError::Exists { path: path.to_path_buf() });
        }
        let name =
            path.file_name().ok_or_else(|| AuditError::BadRequest(format!("{}: not a file name", path.display())))?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(AuditError::BadRequest(format!(
                "{}: the folder {} does not exist",
                path.display(),
                parent.display()
            )));
        }
        let tmp = path.with_file_name(format!(".{}.{}.creating", name.to_string_lossy(), std::process::id()));
        remove_database_files(&tmp);
        let built = build(&tmp, setup, extra).map_err(|e| classify(&tmp, e));
        let linked = built.and_then(|()| {
            std::fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => AuditError::Exists { path: path.to_path_buf() },
                _ => AuditError::Io { path: path.to_path_buf(), source: e },
            })
        });
        remove_database_files(&tmp);
        linked?;
        sync_parent(path)?;
        Self::open(path)
    }

    /// Open an existing audit with the default [`Patience`].
    pub fn open(path: &Path) -> Result<Audit> {
        Self::open_with(path, Patience::default())
    }

    /// Open an existing audit. The file is checked (Lantern's application id, a schema version
    /// this build knows, SQLite's `quick_check`) before anything is written to it; an older
    /// schema is then migrated in one transaction.
    pub fn open_with(path: &Path, patience: Patience) -> Result<Audit> {
        let meta = path.metadata().map_err(|_| AuditError::Missing { path: path.to_path_buf() })?;
        if !meta.is_file() {
            return Err(AuditError::Foreign { path: path.to_path_buf(), reason: "a folder, not a file".into() });
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| classify(path, e))?;
        conn.busy_timeout(patience.timeout).map_err(|e| classify(path, e))?;
        let mut audit = Audit { conn, path: path.to_path_buf(), patience };
        let header = audit.read(schema::inspect)?;
        if header.application_id != APPLICATION_ID {
            let reason = if header.tables.is_empty() {
                "an empty SQLite database".to_string()
            } else {
                format!("an SQLite database of another program, with tables {}", header.tables.join(", "))
            };
            return Err(AuditError::Foreign { path: audit.path, reason });
        }
        if header.version > SCHEMA_VERSION {
            return Err(AuditError::Newer { path: audit.path, found: header.version, supported: SCHEMA_VERSION });
        }
        if header.version < 1 {
            return Err(AuditError::Corrupt {
                path: audit.path,
                reason: format!("schema version {} is not one Lantern wrote", header.version),
            });
        }
        let problems = audit.read(|c| {
            let mut stmt = c.prepare("PRAGMA quick_check")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        if problems != ["ok"] {
            let lines: Vec<&str> = problems
                .iter()
                .flat_map(|p| p.lines())
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("***"))
                .take(3)
                .collect();
            return Err(AuditError::Corrupt { path: audit.path, reason: lines.join("; ") });
        }
        audit.read(|c| {
            c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
            c.pragma_update(None, "synchronous", "FULL")?;
            c.pragma_update(None, "foreign_keys", true)
        })?;
        if header.version < SCHEMA_VERSION {
            audit.write(|tx| {
                let now = schema::version(tx)?;
                schema::migrate(tx, now, SCHEMA_VERSION)
            })?;
        }
        let tables = audit.read(schema::inspect)?.tables;
        if let Some(missing) = TABLES.iter().find(|t| !tables.iter().any(|have| have == *t)) {
            return Err(AuditError::Corrupt { path: audit.path, reason: format!("table '{missing}' is missing") });
        }
        Ok(audit)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file (always [`SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> Result<i64> {
        self.read(schema::version)
    }

    /// Dataset, model, method and threshold.
    pub fn settings(&self) -> Result<Settings> {
        let meta = self.meta()?;
        let get = |key: &str| {
            meta.get(key).map(String::as_str).ok_or_else(|| self.corrupt(format!("setting '{key}' is missing")))
        };
        let bad = |key: &str, e: String| self.corrupt(format!("setting '{key}': {e}"));
        let format: Format = get("dataset_format")?.parse().map_err(|e| bad("dataset_format", e))?;
        let threshold: f32 =
            get("threshold")?.parse().map_err(|e: std::num::ParseFloatError| bad("threshold", e.to_string()))?;
        let method = meta.get("method").map(|m| m.parse::<Method>().map_err(|e| bad("method", e))).transpose()?;
        let model = match (meta.get("model_path"), meta.get("model_sha256")) {
            (Some(path), Some(sha256)) => Some(ModelRef { path: PathBuf::from(path), sha256: sha256.clone() }),
            _ => None,
        };
        Ok(Settings {
            dataset: PathBuf::from(get("dataset_path")?),
            format,
            dataset_digest: get("dataset_digest")?.to_string(),
            model,
            method,
            threshold,
        })
    }

    /// When and by which Lantern the file was created.
    pub fn origin(&self) -> Result<Origin> {
        let meta = self.meta()?;
        let get = |key: &str| meta.get(key).cloned().unwrap_or_default();
        Ok(Origin { created: get("created"), lantern_version: get("lantern_version") })
    }

    /// The name verdicts are recorded under when they do not name their own.
    pub fn annotator(&self) -> Result<Option<String>> {
        Ok(self.meta()?.remove("annotator"))
    }

    pub fn set_annotator(&mut self, name: &str) -> Result<()> {
        let name = checked_annotator(name).map_err(AuditError::BadRequest)?;
        self.write(|tx| {
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('annotator', ?1)", [&name]).map(drop)
        })
    }

    /// Class names, indexed by class.
    pub fn classes(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT name FROM classes ORDER BY idx")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
    }

    /// The images in dataset order.
    pub fn images(&self) -> Result<Vec<ImageEntry>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {IMAGE_COLUMNS} FROM images i ORDER BY i.position"))?;
            stmt.query_map([], image_from_row)?.collect()
        })
    }

    /// One image by id.
    pub fn image(&self, id: &str) -> Result<ImageEntry> {
        self.read(|c| {
            c.query_row(&format!("SELECT {IMAGE_COLUMNS} FROM images i WHERE i.id = ?1"), [id], image_from_row)
                .optional()
        })?
        .ok_or_else(|| AuditError::UnknownImage { id: id.to_string() })
    }

    /// Images whose files are not where the audit expects them (the dataset moved or lost
    /// files); their verdicts stay readable.
    pub fn missing_files(&self) -> Result<Vec<MissingFile>> {
        let settings = self.settings()?;
        Ok(self
            .images()?
            .into_iter()
            .map(|im| (settings.image_path(&im), im.id))
            .filter(|(path, _)| !path.is_file())
            .map(|(path, image_id)| MissingFile { image_id, path })
            .collect())
    }

    /// Record a verdict in its own committed transaction and return its row id; when this
    /// returns, the verdict is on disk.
    pub fn record(&mut self, v: &NewVerdict) -> Result<VerdictId> {
        let image = self.image(&v.image_id)?;
        let annotator = match &v.annotator {
            Some(name) => checked_annotator(name).map_err(AuditError::BadRequest)?,
            None => self.annotator()?.ok_or_else(|| {
                AuditError::BadRequest("no annotator: name one for this verdict or for the audit".into())
            })?,
        };
        if let Some(iou) = v.iou
            && !(0.0..=1.0).contains(&iou)
        {
            return Err(AuditError::BadRequest(format!("IoU must be in [0, 1], got {iou}")));
        }
        for b in v.predicted_boxes.iter().chain(&v.corrected_box) {
            check_inside(&image, b)?;
        }
        if let Some(class) = v.predicted_class {
            self.check_class(class)?;
        }
        let corrected = v.corrected_box.as_ref().map(box_to_json);
        let predicted = boxes_to_json(&v.predicted_boxes);
        let id = self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO verdicts (image_id, time, annotator, verdict, iou, predicted_class, predicted_boxes, corrected_box, comment)
                     VALUES (?1, {NOW}, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![v.image_id, annotator, v.kind.as_str(), v.iou, v.predicted_class.map(|c| c as i64), predicted, corrected, v.comment],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        Ok(VerdictId(id))
    }

    /// Cache the model's prediction for an image (replacing an earlier one).
    pub fn record_prediction(&mut self, image_id: &str, p: &Prediction) -> Result<()> {
        let image = self.image(image_id)?;
        for b in &p.boxes {
            check_inside(&image, b)?;
        }
        if let Some(class) = p.class {
            self.check_class(class)?;
        }
        let boxes = boxes_to_json(&p.boxes);
        self.write(|tx| {
            tx.execute(
                &format!("INSERT OR REPLACE INTO predictions (image_id, class, boxes, iou, time) VALUES (?1, ?2, ?3, ?4, {NOW})"),
                params![image_id, p.class.map(|c| c as i64), boxes, p.iou],
            )
            .map(drop)
        })
    }

    /// The cached prediction for an image.
    pub fn prediction(&self, image_id: &str) -> Result<Option<Prediction>> {
        self.read(|c| {
            c.query_row(
                "SELECT class, boxes, iou FROM predictions WHERE image_id = ?1",
                [image_id],
                prediction_from_row,
            )
            .optional()
        })
    }

    /// One verdict by row id.
    pub fn verdict(&self, id: VerdictId) -> Result<Option<Verdict>> {
        self.read(|c| {
            c.query_row(&format!("SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE v.id = ?1"), [id.0], verdict_from_row)
                .optional()
        })
    }

    /// The latest verdict about an image.
    pub fn latest(&self, image_id: &str) -> Result<Option<Verdict>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE v.image_id = ?1 ORDER BY v.id DESC LIMIT 1"),
                [image_id],
                verdict_from_row,
            )
            .optional()
        })
    }

    /// The latest verdict of every judged image, in dataset order.
    pub fn latest_verdicts(&self) -> Result<Vec<Verdict>> {
        self.query_verdicts(&format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts v JOIN images i ON i.id = v.image_id
             WHERE v.id IN (SELECT MAX(id) FROM verdicts GROUP BY image_id) ORDER BY i.position"
        ))
    }

    /// Every verdict in the order it was committed.
    pub fn verdicts(&self) -> Result<Vec<Verdict>> {
        self.query_verdicts(&format!("SELECT {VERDICT_COLUMNS} FROM verdicts v ORDER BY v.id"))
    }

    /// Audited and total images, and the latest verdicts by kind.
    pub fn progress(&self) -> Result<Progress> {
        self.read(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM images),
                        (SELECT COUNT(*) FROM verdicts),
                        COUNT(*),
                        COALESCE(SUM(verdict = 'accept'), 0),
                        COALESCE(SUM(verdict = 'reject'), 0),
                        COALESCE(SUM(verdict = 'flag'), 0)
                 FROM verdicts WHERE id IN (SELECT MAX(id) FROM verdicts GROUP BY image_id)",
                [],
                |r| {
                    let n = |i| r.get::<_, i64>(i).map(|v| v as usize);
                    Ok(Progress {
                        total: n(0)?,
                        verdicts: n(1)?,
                        audited: n(2)?,
                        accepted: n(3)?,
                        rejected: n(4)?,
                        flagged: n(5)?,
                    })
                },
            )
        })
    }

    /// Every image with its latest verdict and cached prediction, in dataset order.
    pub fn statuses(&self) -> Result<Vec<ImageStatus>> {
        let mut latest: HashMap<String, Verdict> =
            self.latest_verdicts()?.into_iter().map(|v| (v.image_id.clone(), v)).collect();
        let mut predictions: HashMap<String, Prediction> = self.read(|c| {
            let mut stmt = c.prepare("SELECT image_id, class, boxes, iou FROM predictions")?;
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, prediction_from_row_at(r, 1)?)))?.collect()
        })?;
        Ok(self
            .images()?
            .into_iter()
            .map(|image| ImageStatus {
                latest: latest.remove(&image.id),
                prediction: predictions.remove(&image.id),
                image,
            })
            .collect())
    }

    /// The images that pass `filter`, in dataset order.
    pub fn list(&self, filter: &Filter) -> Result<Vec<ImageStatus>> {
        Ok(self.statuses()?.into_iter().filter(|s| filter.matches(s)).collect())
    }

    /// The first image without a verdict after `after` in dataset order (from the start when
    /// `after` is `None`), wrapping around; `None` when every image has a verdict.
    pub fn next_unaudited(&self, after: Option<&str>) -> Result<Option<ImageEntry>> {
        let start = match after {
            Some(id) => self.image(id)?.position as i64,
            None => -1,
        };
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {IMAGE_COLUMNS} FROM images i WHERE NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.image_id = i.id)
                     ORDER BY i.position <= ?1, i.position LIMIT 1"
                ),
                [start],
                image_from_row,
            )
            .optional()
        })
    }

    /// Where an annotator resumes: the next image without a verdict after the one judged last
    /// (the first one without a verdict in a fresh audit); `None` when every image is judged.
    pub fn resume(&self) -> Result<Option<ImageEntry>> {
        let last: Option<String> = self.read(|c| {
            c.query_row("SELECT image_id FROM verdicts ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).optional()
        })?;
        self.next_unaudited(last.as_deref())
    }

    /// The agreement statistics a merge stored (empty for an annotator's own audit).
    pub fn agreement(&self) -> Result<Vec<PairAgreement>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT rater_a, rater_b, images, agreed, kappa, kappa_images, mean_iou, iou_images FROM agreement ORDER BY rater_a, rater_b")?;
            stmt.query_map([], |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v as usize);
                Ok(PairAgreement {
                    rater_a: r.get(0)?,
                    rater_b: r.get(1)?,
                    images: n(2)?,
                    agreed: n(3)?,
                    kappa: r.get(4)?,
                    kappa_images: n(5)?,
                    mean_iou: r.get(6)?,
                    iou_images: n(7)?,
                })
            })?
            .collect()
        })
    }

    /// SQLite's full `PRAGMA integrity_check`: `["ok"]` for a sound file.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
    }

    /// The settings, classes and images, to start another audit of the same dataset.
    pub(crate) fn setup(&self) -> Result<Setup> {
        Ok(Setup {
            settings: self.settings()?,
            annotator: None,
            classes: self.classes()?,
            images: self.images()?,
            warnings: Vec::new(),
        })
    }

    fn check_class(&self, class: usize) -> Result<()> {
        let classes = self.classes()?.len();
        if classes > 0 && class >= classes {
            return Err(AuditError::BadRequest(format!(
                "class {class} is out of range: the dataset has {classes} classes"
            )));
        }
        Ok(())
    }

    fn meta(&self) -> Result<HashMap<String, String>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT key, value FROM meta")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        })
    }

    fn query_verdicts(&self, sql: &str) -> Result<Vec<Verdict>> {
        self.read(|c| {
            let mut stmt = c.prepare(sql)?;
            stmt.query_map([], verdict_from_row)?.collect()
        })
    }

    fn corrupt(&self, reason: String) -> AuditError {
        AuditError::Corrupt { path: self.path.clone(), reason }
    }

    /// Run a read, retrying while the file is busy.
    fn read<T>(&self, mut op: impl FnMut(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        with_retry(&self.path, self.patience, || op(&self.conn))
    }

    /// Run `op` in an `IMMEDIATE` transaction and commit it, retrying while the file is busy.
    fn write<T>(&mut self, mut op: impl FnMut(&Transaction) -> rusqlite::Result<T>) -> Result<T> {
        let Audit { conn, path, patience } = self;
        with_retry(path, *patience, || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = op(&tx)?;
            tx.commit()?;
            Ok(value)
        })
    }
}

/// Build a complete audit file at `tmp` in one transaction.
fn build(tmp: &Path, setup: &Setup, extra: impl FnOnce(&Transaction) -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    let mut conn = Connection::open_with_flags(
        tmp,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let tx = conn.transaction()?;
    schema::migrate(&tx, 0, SCHEMA_VERSION)?;
    let s = &setup.settings;
    let mut meta: Vec<(&str, String)> = vec![
        ("dataset_path", s.dataset.to_string_lossy().into_owned()),
        ("dataset_format", s.format.to_string()),
        ("dataset_digest", s.dataset_digest.clone()),
        ("threshold", s.threshold.to_string()),
        ("lantern_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    if let Some(m) = &s.model {
        meta.push(("model_path", m.path.to_string_lossy().into_owned()));
        meta.push(("model_sha256", m.sha256.clone()));
    }
    if let Some(m) = s.method {
        meta.push(("method", m.name().to_string()));
    }
    if let Some(a) = &setup.annotator {
        meta.push(("annotator", a.clone()));
    }
    for (key, value) in meta {
        tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [key, &value])?;
    }
    tx.execute(&format!("INSERT INTO meta (key, value) VALUES ('created', {NOW})"), [])?;
    for (i, name) in setup.classes.iter().enumerate() {
        tx.execute("INSERT INTO classes (idx, name) VALUES (?1, ?2)", params![i as i64, name])?;
    }
    {
        let mut insert = tx.prepare(
            "INSERT INTO images (id, position, file, class, width, height, boxes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for im in &setup.images {
            insert.execute(params![
                im.id,
                im.position as i64,
                im.file,
                im.class.map(|c| c as i64),
                im.width,
                im.height,
                boxes_to_json(&im.boxes)
            ])?;
        }
    }
    extra(&tx)?;
    tx.commit()?;
    // Closing the last connection checkpoints the log into the file and removes it.
    conn.close().map_err(|(_, e)| e)
}

/// Copy a verdict (with its time and annotator) into a file being built.
pub(crate) fn insert_verdict(tx: &Transaction, v: &Verdict) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO verdicts (image_id, time, annotator, verdict, iou, predicted_class, predicted_boxes, corrected_box, comment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            v.image_id,
            v.time,
            v.annotator,
            v.kind.as_str(),
            v.iou,
            v.predicted_class.map(|c| c as i64),
            boxes_to_json(&v.predicted_boxes),
            v.corrected_box.as_ref().map(box_to_json),
            v.comment
        ],
    )
    .map(drop)
}

/// Store one pair's agreement in a file being built.
pub(crate) fn insert_agreement(tx: &Transaction, a: &PairAgreement) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO agreement (rater_a, rater_b, images, agreed, kappa, kappa_images, mean_iou, iou_images) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![a.rater_a, a.rater_b, a.images as i64, a.agreed as i64, a.kappa, a.kappa_images as i64, a.mean_iou, a.iou_images as i64],
    )
    .map(drop)
}

/// Call `op` until it succeeds, fails for another reason than a lock, or has been tried
/// `1 + retries` times (each attempt already waited up to the busy timeout inside SQLite).
fn with_retry<T>(path: &Path, patience: Patience, mut op: impl FnMut() -> rusqlite::Result<T>) -> Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(25);
    let mut attempt = 0;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if is_busy(&e) && attempt < patience.retries => {
                attempt += 1;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(e) if is_busy(&e) => {
                return Err(AuditError::Busy { path: path.to_path_buf(), waited: start.elapsed() });
            }
            Err(e) => return Err(classify(path, e)),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Turn an SQLite error into the audit error a user can act on.
fn classify(path: &Path, e: rusqlite::Error) -> AuditError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            AuditError::Foreign { path, reason: "not an SQLite database (damaged, or another kind of file)".into() }
        }
        Some(ErrorCode::DatabaseCorrupt) => AuditError::Corrupt { path, reason: e.to_string() },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => AuditError::Busy { path, waited: Duration::ZERO },
        _ => match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => AuditError::Corrupt { path, reason: e.to_string() },
            other => AuditError::Sqlite { path, source: other },
        },
    }
}

fn check_inside(image: &ImageEntry, b: &PixelBox) -> Result<()> {
    if let (Some(w), Some(h)) = (image.width, image.height)
        && (b.x1 >= w || b.y1 >= h)
    {
        return Err(AuditError::BadRequest(format!(
            "box {},{},{},{} lies outside image {} ({w}x{h}: x up to {}, y up to {})",
            b.x0,
            b.y0,
            b.x1,
            b.y1,
            image.id,
            w - 1,
            h - 1
        )));
    }
    Ok(())
}

/// Remove a database file and its log and shared-memory files, if present.
fn remove_database_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Make a new directory entry durable.
fn sync_parent(path: &Path) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if cfg!(unix) {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| AuditError::Io { path: parent.to_path_buf(), source: e })?;
    }
    Ok(())
}

const IMAGE_COLUMNS: &str = "i.id, i.position, i.file, i.class, i.width, i.height, i.boxes";

fn image_from_row(r: &Row) -> rusqlite::Result<ImageEntry> {
    Ok(ImageEntry {
        id: r.get(0)?,
        position: r.get::<_, i64>(1)? as usize,
        file: r.get(2)?,
        class: r.get::<_, Option<i64>>(3)?.map(|c| c as usize),
        width: r.get(4)?,
        height: r.get(5)?,
        boxes: boxes_from_json(&r.get::<_, String>(6)?).map_err(|e| conversion(6, e))?,
    })
}

const VERDICT_COLUMNS: &str = "v.id, v.time, v.annotator, v.image_id, v.verdict, v.iou, v.predicted_class, v.predicted_boxes, v.corrected_box, v.comment";

fn verdict_from_row(r: &Row) -> rusqlite::Result<Verdict> {
    let corrected =
        r.get::<_, Option<String>>(8)?.map(|text| box_from_json(&text).map_err(|e| conversion(8, e))).transpose()?;
    Ok(Verdict {
        id: VerdictId(r.get(0)?),
        time: r.get(1)?,
        annotator: r.get(2)?,
        image_id: r.get(3)?,
        kind: r.get::<_, String>(4)?.parse().map_err(|e| conversion(4, e))?,
        iou: r.get(5)?,
        predicted_class: r.get::<_, Option<i64>>(6)?.map(|c| c as usize),
        predicted_boxes: boxes_from_json(&r.get::<_, String>(7)?).map_err(|e| conversion(7, e))?,
        corrected_box: corrected,
        comment: r.get(9)?,
    })
}

fn prediction_from_row(r: &Row) -> rusqlite::Result<Prediction> {
    prediction_from_row_at(r, 0)
}

fn prediction_from_row_at(r: &Row, at: usize) -> rusqlite::Result<Prediction> {
    Ok(Prediction {
        class: r.get::<_, Option<i64>>(at)?.map(|c| c as usize),
        boxes: boxes_from_json(&r.get::<_, String>(at + 1)?).map_err(|e| conversion(at + 1, e))?,
        iou: r.get(at + 2)?,
    })
}

fn conversion(column: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::VerdictKind;
    use crate::datasets::Format;

    /// A setup of `n` 100x80 images of two classes, without image files.
    fn setup(dir: &Path, n: usize, annotator: Option<&str>) -> Setup {
        let images: Vec<ImageEntry> = (0..n)
            .map(|i| ImageEntry {
                id: format!("img{i}"),
                position: i,
                file: format!("images/img{i}.png"),
                class: Some(i % 2),
                width: Some(100),
                height: Some(80),
                boxes: vec![PixelBox { x0: 10, y0: 10, x1: 49, y1: 39 }],
            })
            .collect();
        let settings = Settings {
            dataset: dir.to_path_buf(),
            format: Format::Synth,
            dataset_digest: super::super::setup::dataset_digest(&images),
            model: Some(ModelRef { path: dir.join("model.safetensors"), sha256: "ab".repeat(32) }),
            method: Some(Method::GradCam),
            threshold: 0.25,
        };
        Setup {
            settings,
            annotator: annotator.map(str::to_string),
            classes: vec!["circle".into(), "star".into()],
            images,
            warnings: Vec::new(),
        }
    }

    fn verdict(image: &str, kind: VerdictKind) -> NewVerdict {
        NewVerdict::new(image, kind)
    }

    #[test]
    fn a_new_audit_keeps_its_settings_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let s = setup(dir.path(), 3, Some("ana"));
        let audit = Audit::create(&path, &s).unwrap();
        assert_eq!(audit.settings().unwrap(), s.settings);
        assert_eq!(audit.images().unwrap(), s.images);
        assert_eq!(audit.classes().unwrap(), s.classes);
        assert_eq!(audit.annotator().unwrap().as_deref(), Some("ana"));
        assert_eq!(audit.schema_version().unwrap(), SCHEMA_VERSION);
        assert!(audit.origin().unwrap().created.ends_with('Z'));
        drop(audit);
        let bytes = std::fs::read(&path).unwrap();
        assert!(matches!(Audit::create(&path, &setup(dir.path(), 5, None)), Err(AuditError::Exists { .. })));
        let nowhere = Audit::create(&dir.path().join("no/such/folder/a.db"), &setup(dir.path(), 1, None)).unwrap_err();
        assert!(nowhere.to_string().contains("no/such/folder does not exist"), "{nowhere}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains("creating"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let reopened = Audit::open(&path).unwrap();
        let journal: String = reopened.read(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0))).unwrap();
        let synchronous: i64 = reopened.read(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0))).unwrap();
        let foreign_keys: i64 = reopened.read(|c| c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))).unwrap();
        assert_eq!(
            (journal.as_str(), synchronous, foreign_keys),
            ("wal", 2, 1),
            "WAL, synchronous=FULL, foreign keys on"
        );
    }

    #[test]
    fn verdicts_are_recorded_with_their_ids_and_the_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut audit = Audit::create(&dir.path().join("a.db"), &setup(dir.path(), 4, Some("ana"))).unwrap();
        let mut first = verdict("img1", VerdictKind::Reject);
        first.corrected_box = Some(PixelBox { x0: 1, y0: 2, x1: 99, y1: 79 });
        first.predicted_boxes = vec![PixelBox { x0: 0, y0: 0, x1: 5, y1: 5 }];
        first.predicted_class = Some(1);
        first.iou = Some(0.125);
        first.comment = "the box is on the shadow".into();
        let a = audit.record(&first).unwrap();
        let b = audit.record(&verdict("img1", VerdictKind::Accept)).unwrap();
        assert!(b > a);
        let stored = audit.verdict(a).unwrap().unwrap();
        assert_eq!(
            (stored.annotator.as_str(), stored.kind, stored.iou, stored.corrected_box, stored.predicted_class),
            ("ana", VerdictKind::Reject, Some(0.125), first.corrected_box, Some(1))
        );
        assert_eq!(
            (stored.predicted_boxes.clone(), stored.comment.as_str()),
            (first.predicted_boxes.clone(), "the box is on the shadow")
        );
        assert_eq!(audit.latest("img1").unwrap().unwrap().id, b);
        assert_eq!(audit.latest("img0").unwrap(), None);
        let mut by_ben = verdict("img2", VerdictKind::Flag);
        by_ben.annotator = Some("ben".into());
        audit.record(&by_ben).unwrap();
        assert_eq!(audit.latest("img2").unwrap().unwrap().annotator, "ben");
        assert_eq!(
            audit.progress().unwrap(),
            Progress { audited: 2, total: 4, accepted: 1, rejected: 0, flagged: 1, verdicts: 3 }
        );
        assert_eq!(
            audit.latest_verdicts().unwrap().iter().map(|v| v.image_id.as_str()).collect::<Vec<_>>(),
            ["img1", "img2"]
        );
        assert_eq!(audit.verdicts().unwrap().len(), 3);
    }

    #[test]
    fn bad_verdicts_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut audit = Audit::create(&dir.path().join("a.db"), &setup(dir.path(), 2, None)).unwrap();
        assert!(
            matches!(audit.record(&verdict("img0", VerdictKind::Accept)), Err(AuditError::BadRequest(m)) if m.contains("no annotator"))
        );
        audit.set_annotator("ana").unwrap();
        assert!(
            matches!(audit.record(&verdict("nope", VerdictKind::Accept)), Err(AuditError::UnknownImage { id }) if id == "nope")
        );
        let mut outside = verdict("img0", VerdictKind::Reject);
        outside.corrected_box = Some(PixelBox { x0: 0, y0: 0, x1: 100, y1: 10 });
        assert!(
            matches!(audit.record(&outside), Err(AuditError::BadRequest(m)) if m.contains("outside image img0 (100x80"))
        );
        let mut iou = verdict("img0", VerdictKind::Accept);
        iou.iou = Some(1.5);
        assert!(audit.record(&iou).is_err());
        iou.iou = Some(f64::NAN);
        assert!(audit.record(&iou).is_err());
        let mut class = verdict("img0", VerdictKind::Accept);
        class.predicted_class = Some(2);
        assert!(matches!(audit.record(&class), Err(AuditError::BadRequest(m)) if m.contains("class 2")));
        assert!(audit.set_annotator(" ").is_err());
        assert_eq!(audit.progress().unwrap().verdicts, 0);
    }

    #[test]
    fn filters_next_unaudited_and_resume_follow_the_dataset_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut audit = Audit::create(&dir.path().join("a.db"), &setup(dir.path(), 6, Some("ana"))).unwrap();
        assert_eq!(audit.resume().unwrap().unwrap().id, "img0", "a fresh audit starts at the first image");
        let mut v = verdict("img2", VerdictKind::Reject);
        v.iou = Some(0.2);
        v.predicted_class = Some(1); // ground truth of img2 is class 0
        audit.record(&v).unwrap();
        let mut v = verdict("img3", VerdictKind::Flag);
        v.iou = Some(0.9);
        audit.record(&v).unwrap();
        audit
            .record_prediction(
                "img4",
                &Prediction { class: Some(1), boxes: vec![PixelBox { x0: 0, y0: 0, x1: 9, y1: 9 }], iou: Some(0.1) },
            )
            .unwrap();
        assert_eq!(audit.prediction("img4").unwrap().unwrap().iou, Some(0.1));
        let ids = |f: Filter| audit.list(&f).unwrap().into_iter().map(|s| s.image.id).collect::<Vec<_>>();
        assert_eq!(ids(Filter::default()).len(), 6);
        assert_eq!(
            ids(Filter { iou_below: Some(0.5), ..Filter::default() }),
            ["img2", "img4"],
            "a cached prediction's IoU counts before a verdict"
        );
        assert_eq!(ids(Filter { wrong_class: true, ..Filter::default() }), ["img2", "img4"]);
        assert_eq!(ids(Filter { flagged: true, ..Filter::default() }), ["img3"]);
        assert_eq!(ids(Filter { unaudited: true, ..Filter::default() }), ["img0", "img1", "img4", "img5"]);
        assert_eq!(ids(Filter { unaudited: true, iou_below: Some(0.5), ..Filter::default() }), ["img4"]);
        let next = |after| audit.next_unaudited(after).unwrap().map(|i| i.id);
        assert_eq!(next(None).as_deref(), Some("img0"));
        assert_eq!(next(Some("img1")).as_deref(), Some("img4"));
        assert_eq!(next(Some("img5")).as_deref(), Some("img0"), "wraps around");
        assert!(matches!(audit.next_unaudited(Some("x")), Err(AuditError::UnknownImage { .. })));
        assert_eq!(audit.resume().unwrap().unwrap().id, "img4", "after the image judged last");
        for id in ["img0", "img1", "img4", "img5"] {
            audit.record(&verdict(id, VerdictKind::Accept)).unwrap();
        }
        assert_eq!(audit.resume().unwrap(), None);
    }

    #[test]
    fn a_v1_file_is_migrated_and_keeps_its_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            schema::migrate(&tx, 0, 1).unwrap();
            tx.execute_batch(
                "INSERT INTO meta VALUES ('dataset_path', '/data'), ('dataset_format', 'voc'), ('dataset_digest', 'd'),
                                         ('threshold', '0.5'), ('annotator', 'old hand'), ('created', '2025-01-01T00:00:00.000Z');
                 INSERT INTO classes VALUES (0, 'cat');
                 INSERT INTO images VALUES ('a', 0, 'a.jpg', 0, 20, 20, '[[1,1,5,5]]'), ('b', 1, 'b.jpg', 0, NULL, NULL, '[]');
                 INSERT INTO verdicts (image_id, time, verdict, iou, predicted_class, predicted_boxes, corrected_box, comment)
                     VALUES ('a', '2025-01-01T00:00:01.000Z', 'reject', 0.3, 0, '[[0,0,3,3]]', '[1,1,6,6]', 'too small');",
            )
            .unwrap();
            tx.commit().unwrap();
            assert_eq!(schema::version(&conn).unwrap(), 1);
        }
        let mut audit = Audit::open(&path).unwrap();
        assert_eq!(audit.schema_version().unwrap(), 2);
        let old = audit.latest("a").unwrap().unwrap();
        assert_eq!(
            (old.annotator.as_str(), old.kind, old.corrected_box),
            ("old hand", VerdictKind::Reject, Some(PixelBox { x0: 1, y0: 1, x1: 6, y1: 6 }))
        );
        assert_eq!(audit.settings().unwrap().format, Format::Voc);
        let id = audit.record(&verdict("b", VerdictKind::Accept)).unwrap();
        assert_eq!(audit.verdict(id).unwrap().unwrap().annotator, "old hand");
        audit.record_prediction("b", &Prediction { class: None, boxes: Vec::new(), iou: None }).unwrap();
        assert_eq!(audit.integrity_check().unwrap(), ["ok"]);
        drop(audit);
        assert_eq!(Audit::open(&path).unwrap().verdicts().unwrap().len(), 2, "a migrated file opens again as it is");
    }

    #[test]
    fn a_file_from_a_newer_lantern_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(Audit::create(&path, &setup(dir.path(), 1, None)).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let err = Audit::open(&path).unwrap_err();
        assert!(matches!(err, AuditError::Newer { found: 3, supported: 2, .. }), "{err}");
        assert!(err.to_string().contains("newer Lantern"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_held_write_lock_makes_a_writer_wait_then_give_up_with_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(Audit::create(&path, &setup(dir.path(), 1, Some("ana"))).unwrap());
        let mut audit = Audit::open_with(&path, Patience { timeout: Duration::from_millis(50), retries: 2 }).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = audit.record(&verdict("img0", VerdictKind::Accept)).unwrap_err();
        assert!(matches!(err, AuditError::Busy { waited, .. } if waited >= Duration::from_millis(150)), "{err}");
        assert!(err.to_string().contains("nothing was saved"), "{err}");
        assert!(audit.latest("img0").unwrap().is_none(), "reads go on while another process writes");
        other.execute_batch("COMMIT").unwrap();
        let id = audit.record(&verdict("img0", VerdictKind::Accept)).unwrap();
        assert_eq!(audit.latest("img0").unwrap().unwrap().id, id);
    }

    #[test]
    fn two_writers_on_one_file_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(Audit::create(&path, &setup(dir.path(), 10, None)).unwrap());
        let writers: Vec<_> = ["ana", "ben"]
            .into_iter()
            .map(|who| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut audit = Audit::open(&path).unwrap();
                    (0..150)
                        .map(|i| {
                            let mut v = verdict(&format!("img{}", i % 10), VerdictKind::Accept);
                            v.annotator = Some(who.into());
                            v.comment = format!("{who} {i}");
                            audit.record(&v).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<VerdictId> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 300);
        let audit = Audit::open(&path).unwrap();
        let stored = audit.verdicts().unwrap();
        assert_eq!(stored.iter().map(|v| v.id).collect::<Vec<_>>(), ids);
        for who in ["ana", "ben"] {
            assert_eq!(stored.iter().filter(|v| v.annotator == who).count(), 150);
        }
        assert_eq!(audit.integrity_check().unwrap(), ["ok"]);
    }
}
