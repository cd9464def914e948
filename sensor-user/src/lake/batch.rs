//! Column builders for one table: rows are appended field by field in schema order, then
//! finished into an Arrow `RecordBatch`. Strings go into one growing buffer per column, so
//! a row costs no allocation once the buffers have grown.

use std::fmt::Write as _;

use arrow::{
    array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder},
    record_batch::RecordBatch,
};

use super::schema::{Kind, Table};

enum Builder {
    Ts(TimestampNanosecondBuilder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(kind: Kind, rows: usize) -> Self {
        match kind {
            Kind::Ts => Builder::Ts(TimestampNanosecondBuilder::with_capacity(rows).with_timezone("UTC")),
            Kind::I64 => Builder::I64(Int64Builder::with_capacity(rows)),
            Kind::F64 => Builder::F64(Float64Builder::with_capacity(rows)),
            Kind::Str => Builder::Str(StringBuilder::with_capacity(rows, rows * 16)),
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
        }
    }

    fn null(&mut self) {
        match self {
            Builder::Ts(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Ts(b) => std::sync::Arc::new(b.finish()),
            Builder::I64(b) => std::sync::Arc::new(b.finish()),
            Builder::F64(b) => std::sync::Arc::new(b.finish()),
            Builder::Str(b) => std::sync::Arc::new(b.finish()),
            Builder::Bool(b) => std::sync::Arc::new(b.finish()),
        }
    }
}

/// The rows of one table not yet handed to the writer.
pub struct TableBuffer {
    table: Table,
    cols: Vec<Builder>,
    rows: usize,
    /// Bytes of text appended (an estimate of the batch's size).
    bytes: usize,
}

impl std::fmt::Debug for TableBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuffer").field("table", &self.table).field("rows", &self.rows).finish()
    }
}

impl TableBuffer {
    /// Empty builders for `table`, sized for `rows`.
    pub fn new(table: Table, rows: usize) -> Self {
        let cols = table.columns().iter().map(|(_, k, _)| Builder::new(*k, rows)).collect();
        Self { table, cols, rows: 0, bytes: 0 }
    }

    /// The table.
    pub fn table(&self) -> Table {
        self.table
    }

    /// Rows buffered.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate bytes buffered.
    pub fn bytes(&self) -> usize {
        self.bytes + self.rows * self.cols.len() * 8
    }

    /// Appends one row: `fill` sets fields in schema order; fields it leaves out are null.
    pub fn row(&mut self, fill: impl FnOnce(&mut Row<'_>)) {
        let mut r = Row { cols: &mut self.cols, next: 0, bytes: 0 };
        fill(&mut r);
        let (next, bytes) = (r.next, r.bytes);
        for c in &mut self.cols[next..] {
            c.null();
        }
        self.rows += 1;
        self.bytes += bytes;
    }

    /// The buffered rows as a batch; the builders start again empty.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        self.bytes = 0;
        // The arrays are built from the table's own column kinds, in order, with one value
        // per row in each: the schema always matches.
        RecordBatch::try_new(self.table.schema(), arrays)
            .unwrap_or_else(|_| RecordBatch::new_empty(self.table.schema()))
    }
}

/// One row being filled: each call sets the next column. A value of the wrong kind for its
/// column is stored as null (and fails debug builds), so columns never get out of step.
pub struct Row<'a> {
    cols: &'a mut [Builder],
    next: usize,
    bytes: usize,
}

impl Row<'_> {
    fn col(&mut self) -> Option<&mut Builder> {
        let c = self.cols.get_mut(self.next);
        self.next += 1;
        c
    }

    fn mismatch(b: &mut Builder) {
        debug_assert!(false, "lake row: value of the wrong kind for its column");
        b.null();
    }

    /// A timestamp (ns since the epoch).
    pub fn ts(&mut self, ns: u64) -> &mut Self {
        match self.col() {
            Some(Builder::Ts(b)) => b.append_value(i64::try_from(ns).unwrap_or(i64::MAX)),
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// An integer.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        match self.col() {
            Some(Builder::I64(b)) => b.append_value(v),
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// An unsigned integer (saturating at i64::MAX).
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.i64(i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// An integer or null.
    pub fn opt_u64(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            Some(v) => self.u64(v),
            None => self.null(),
        }
    }

    /// A float.
    pub fn f64(&mut self, v: f64) -> &mut Self {
        match self.col() {
            Some(Builder::F64(b)) => b.append_value(v),
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        match self.col() {
            Some(Builder::Bool(b)) => b.append_value(v),
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// Text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes += s.len();
        match self.col() {
            Some(Builder::Str(b)) => b.append_value(s),
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// Bytes as text (invalid UTF-8 replaced).
    pub fn bytes(&mut self, s: &[u8]) -> &mut Self {
        match std::str::from_utf8(s) {
            Ok(s) => self.str(s),
            Err(_) => self.str(&String::from_utf8_lossy(s)),
        }
    }

    /// Text or null.
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    /// Bytes as text, or null.
    pub fn opt_bytes(&mut self, s: Option<&[u8]>) -> &mut Self {
        match s {
            Some(s) => self.bytes(s),
            None => self.null(),
        }
    }

    /// Formatted text, written straight into the column's buffer.
    pub fn fmt(&mut self, args: std::fmt::Arguments<'_>) -> &mut Self {
        match self.col() {
            Some(Builder::Str(b)) => {
                let _ = b.write_fmt(args);
                b.append_value("");
            }
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// Text items joined by commas.
    pub fn join<I, D>(&mut self, items: I) -> &mut Self
    where
        I: IntoIterator<Item = D>,
        D: std::fmt::Display,
    {
        self.join_with(",", items)
    }

    /// Text items joined by `sep`.
    pub fn join_with<I, D>(&mut self, sep: &str, items: I) -> &mut Self
    where
        I: IntoIterator<Item = D>,
        D: std::fmt::Display,
    {
        match self.col() {
            Some(Builder::Str(b)) => {
                for (i, it) in items.into_iter().enumerate() {
                    if i > 0 {
                        let _ = b.write_str(sep);
                    }
                    let _ = write!(b, "{it}");
                }
                b.append_value("");
            }
            Some(b) => Self::mismatch(b),
            None => {}
        }
        self
    }

    /// Null.
    pub fn null(&mut self) -> &mut Self {
        if let Some(b) = self.col() {
            b.null();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};

    use super::*;

    #[test]
    fn rows_fill_columns_in_order_and_missing_fields_are_null() {
        let mut b = TableBuffer::new(Table::Log, 4);
        b.row(|r| {
            r.ts(1_700_000_000_000_000_000).str("h1").str("sshd").str("failure").str("root").str("10.0.0.1");
        });
        b.row(|r| {
            r.ts(5).str("h1").fmt(format_args!("svc{}", 2));
        });
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(b.rows(), 0);
        let svc = batch.column(2).as_string::<i32>();
        assert_eq!(svc.value(0), "sshd");
        assert_eq!(svc.value(1), "svc2");
        let src = batch.column(5).as_string::<i32>();
        assert_eq!(src.value(0), "10.0.0.1");
        assert!(src.is_null(1));
    }

    #[test]
    fn joined_text_is_comma_separated() {
        let mut b = TableBuffer::new(Table::Baselines, 1);
        b.row(|r| {
            r.ts(1).str("h").join(["a", "b", "c"]);
        });
        let batch = b.finish();
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "a,b,c");
    }
}
