//! `import-batch`'s results: the report file (JSON Lines, one object per row) and the
//! summary table of counts per errorCode, both fed from the same results.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use avatarium::batch::RowResult;
use avatarium::ErrorKind;
use serde_json::json;

#[derive(Default)]
pub struct Summary {
    by_code: BTreeMap<u32, u64>,
    resumed: u64,
    report: Option<BufWriter<File>>,
}

impl Summary {
    /// `report`: the file each row's result is written to (replaced, not appended: a
    /// rerun reports every row of the input, the ones done before included).
    pub fn new(report: Option<&Path>) -> Result<Self, String> {
        let report = match report {
            Some(path) => Some(BufWriter::new(
                File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
            )),
            None => None,
        };
        Ok(Summary {
            report,
            ..Summary::default()
        })
    }

    pub fn add(&mut self, r: &RowResult) -> Result<(), String> {
        *self.by_code.entry(r.error_code).or_default() += 1;
        self.resumed += u64::from(r.resumed);
        if let Some(out) = &mut self.report {
            let line = json!({
                "row": r.row,
                "UID": r.uid,
                "errorCode": r.error_code,
                "details": r.details,
                "resumed": r.resumed,
                "attempts": r.attempts,
            });
            // Flushed per row: a run killed midway leaves every finished row reported.
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|e| format!("the report could not be written: {e}"))?;
        }
        Ok(())
    }

    pub fn failed(&self) -> u64 {
        self.by_code
            .iter()
            .filter(|(code, _)| **code != 0)
            .map(|(_, n)| n)
            .sum()
    }

    /// The table, for stdout.
    pub fn table(&self) -> String {
        let mut out = format!("{:<10} {:>10}  {}\n", "errorCode", "rows", "meaning");
        for (code, n) in &self.by_code {
            let meaning = match code {
                0 => "OK",
                c => ErrorKind::from_error_code(*c).map_or("", ErrorKind::message),
            };
            out += &format!("{code:<10} {n:>10}  {meaning}\n");
        }
        let total: u64 = self.by_code.values().sum();
        out += &format!(
            "{:<10} {total:>10}  ({} recorded by an earlier run)\n",
            "total", self.resumed
        );
        out
    }
}
