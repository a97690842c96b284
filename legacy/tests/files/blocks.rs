//! A block format: only the first record of each block is a split point, the others are
//! reported with `set_current_position`, in one file and across files.

use std::io::BufRead;

use sdf_core::testing::check_sdf_exhaustive;
use sdf_legacy::file::{FileBasedSource, FileFormat, FilePattern, FileRange, OpenFile};
use sdf_legacy::testing::*;
use sdf_legacy::{BoundedSourceSdf, BundleSize, Result, SourceReader};

use crate::temp::{TempDir, read};

/// Blocks of lines: a line `#name` starts a block, each line after it until the next block is
/// a record `name:line`. The block's first record is claimed at the header's offset.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Blocks;

impl FileFormat for Blocks {
    type Record = String;

    fn read_records<'a>(
        &'a self,
        mut file: OpenFile,
        range: FileRange,
    ) -> Result<SourceReader<'a, String>> {
        let start = range.start_position();
        if start > 0 {
            file.seek(start - 1)?;
            file.skip_until(b'\n')
                .map_err(|e| file.error(start - 1, e))?;
        }
        // Lines before the first header belong to a block that started before the range.
        let mut block: Option<(String, u64, bool)> = None; // (name, header offset, claimed)
        Ok(Box::new(std::iter::from_fn(move || {
            loop {
                let offset = file.position();
                let mut line = String::new();
                match file.read_line(&mut line) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(Err(file.error(offset, e))),
                }
                let line = line.trim_end_matches('\n');
                if let Some(name) = line.strip_prefix('#') {
                    block = Some((name.to_string(), offset, false));
                    continue;
                }
                let Some((name, header, claimed)) = &mut block else {
                    continue;
                };
                let claim = if *claimed {
                    range.set_current_position(offset).map(|()| true)
                } else {
                    *claimed = true;
                    range.try_claim(*header)
                };
                return match claim {
                    Ok(true) => Some(Ok(format!("{name}:{line}"))),
                    Ok(false) => None,
                    Err(e) => Some(Err(e.into())),
                };
            }
        })))
    }
}

const FILE: &str = "#a\n1\n2\n3\n#b\n1\n#c\n#d\n1\n2\n";

#[test]
fn a_range_reads_the_blocks_that_start_in_it() {
    let dir = TempDir::new("blocks");
    let path = dir.write("blocks.txt", FILE);
    let source = FileBasedSource::new(Blocks, FilePattern::path(&path)).unwrap();
    let all = ["a:1", "a:2", "a:3", "b:1", "d:1", "d:2"];
    assert_eq!(read(&source, None, None).unwrap(), all);
    // Block b's header is at 9: [1, 10) holds it, [10, ∞) starts at block c (empty) then d.
    assert_eq!(read(&source, Some(1), Some(10)).unwrap(), ["b:1"]);
    assert_eq!(read(&source, Some(10), None).unwrap(), ["d:1", "d:2"]);
    let report = assert_split_at_fraction_exhaustive(&source, None, None).unwrap();
    assert_eq!(report.records, 6);
    // Reading 2 records puts the reader inside block a, at "2" (offset 5). A split at 0.3
    // (offset 7, inside the block, at "3") keeps the block whole; 0.1 (offset 2) is consumed.
    let result = assert_split_at_fraction_succeeds_and_consistent(&source, 2, 0.3).unwrap();
    assert_eq!(
        (result.num_primary_items, result.num_residual_items),
        (3, Some(3))
    );
    assert_split_at_fraction_fails(&source, 2, 0.1).unwrap();
}

#[test]
fn blocks_in_several_files_pass_the_utilities_and_the_kit() {
    let dir = TempDir::new("blocks-files");
    dir.write("1.txt", FILE);
    dir.write("2.txt", "#e\n1\n#f\n1\n2\n");
    let source = FileBasedSource::new(Blocks, dir.pattern("*.txt")).unwrap();
    assert_eq!(read(&source, None, None).unwrap().len(), 9);
    assert_split_at_fraction_exhaustive(&source, None, None).unwrap();
    let sdf = BoundedSourceSdf::new(source).bundle_size(BundleSize::RunnerHint);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    assert_eq!(report.records, 9);
}
