//! `sensor query "SQL"`: the lake's tables registered in an embedded Apache DataFusion
//! session, one SQL table per lake table (`flows`, `dns`, ..., `decisions`), with the
//! results as a text table, JSON lines or CSV.
//!
//! Before the query every committed file's Parquet footer is read: a file that is not
//! valid Parquet (torn by a foreign writer, damaged on disk) is left out and named in the
//! result, so one bad file never blinds the analyst to the rest.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use arrow::record_batch::RecordBatch;
use datafusion::{
    datasource::{
        MemTable,
        file_format::parquet::ParquetFormat,
        listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl},
    },
    prelude::SessionContext,
};
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::{Table, path::data_files};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// One JSON object per row.
    Json,
    /// CSV with a header line.
    Csv,
}

/// A query's answer.
#[derive(Debug)]
pub struct QueryResult {
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Files read (registered).
    pub files: usize,
    /// Files left out, with why.
    pub skipped: Skipped,
    /// Time spent planning and running (excluding the footer checks).
    pub elapsed: Duration,
}

impl QueryResult {
    /// Rows returned.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Errors of a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The lake directory does not exist.
    #[error("no lake at {0} (start `sensor run` or `sensor replay --lake DIR` to write one)")]
    NoLake(PathBuf),
    /// DataFusion refused or failed the query.
    #[error("query failed: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    /// The async runtime could not start.
    #[error("cannot start the query runtime")]
    Runtime(#[source] std::io::Error),
    /// The result could not be written.
    #[error("cannot write the result")]
    Output(#[source] arrow::error::ArrowError),
}

/// Files left out of a query, with why.
pub type Skipped = Vec<(PathBuf, String)>;

/// Whether `path` is a readable Parquet file (its footer parses).
pub fn check_file(path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let r = SerializedFileReader::new(f).map_err(|e| e.to_string())?;
    let _ = r.metadata().file_metadata().num_rows();
    Ok(())
}

/// A DataFusion session with every table of the lake at `root` registered; returns the
/// session, the number of files registered and the files left out.
pub fn session(root: &Path) -> Result<(SessionContext, usize, Skipped), QueryError> {
    if !root.is_dir() {
        return Err(QueryError::NoLake(root.to_owned()));
    }
    let ctx = SessionContext::new();
    let (mut files, mut skipped) = (0, Vec::new());
    for t in Table::ALL {
        let mut urls = Vec::new();
        for (p, _) in data_files(root, t) {
            match check_file(&p) {
                Ok(()) => match ListingTableUrl::parse(p.to_string_lossy()) {
                    Ok(u) => urls.push(u),
                    Err(e) => skipped.push((p, e.to_string())),
                },
                Err(e) => skipped.push((p, e)),
            }
        }
        files += urls.len();
        let schema = t.schema();
        if urls.is_empty() {
            ctx.register_table(t.name(), Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
            continue;
        }
        let opts = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let cfg = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(opts).with_schema(schema);
        ctx.register_table(t.name(), Arc::new(ListingTable::try_new(cfg)?))?;
    }
    Ok((ctx, files, skipped))
}

/// Runs `sql` over the lake at `root`.
pub fn run(root: &Path, sql: &str) -> Result<QueryResult, QueryError> {
    let (ctx, files, skipped) = session(root)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(QueryError::Runtime)?;
    let started = Instant::now();
    let batches = rt.block_on(async {
        let df = ctx.sql(sql).await?;
        df.collect().await
    })?;
    Ok(QueryResult { batches, files, skipped, elapsed: started.elapsed() })
}

/// Writes the rows in `format`.
pub fn write(out: &mut impl std::io::Write, r: &QueryResult, format: Format) -> Result<(), QueryError> {
    match format {
        Format::Table => {
            let t = arrow::util::pretty::pretty_format_batches(&r.batches).map_err(QueryError::Output)?;
            writeln!(out, "{t}").map_err(|e| QueryError::Output(e.into()))?;
        }
        Format::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            let refs: Vec<&RecordBatch> = r.batches.iter().collect();
            w.write_batches(&refs).map_err(QueryError::Output)?;
            w.finish().map_err(QueryError::Output)?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(out);
            for b in &r.batches {
                w.write(b).map_err(QueryError::Output)?;
            }
        }
    }
    Ok(())
}
