//! A transactional file sink for the crash tests: records go to temporary files, `prepare`
//! syncs them, `commit` renames them into the output directory, `recover` publishes the last
//! durable epoch and deletes every other temporary file.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use async_trait::async_trait;
use sdf_core::{Error, Result, Timestamped};
use sdf_runtime::Sink;

pub struct FileSink {
    out: PathBuf,
    tmp: PathBuf,
    current: Option<(String, BufWriter<File>)>,
    written: Vec<String>,
    seq: u64,
}

impl FileSink {
    pub fn new(dir: &std::path::Path) -> Self {
        let out = dir.join("out");
        let tmp = dir.join("tmp");
        fs::create_dir_all(&out).unwrap();
        fs::create_dir_all(&tmp).unwrap();
        FileSink {
            out,
            tmp,
            current: None,
            written: Vec::new(),
            seq: 0,
        }
    }

    /// Every line of every published file.
    pub fn published(dir: &std::path::Path) -> Vec<String> {
        let mut lines = Vec::new();
        for entry in fs::read_dir(dir.join("out")).unwrap() {
            let text = fs::read_to_string(entry.unwrap().path()).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::user(what, e)
}

#[async_trait]
impl Sink<(String, i64)> for FileSink {
    type Commit = Vec<String>;

    async fn write(&mut self, batch: Vec<Timestamped<(String, i64)>>) -> Result<()> {
        if self.current.is_none() {
            self.seq += 1;
            let name = format!("part-{}-{}-{}", std::process::id(), self.seq, rand_suffix());
            let file =
                File::create(self.tmp.join(&name)).map_err(io(format!("creating {name}")))?;
            self.current = Some((name, BufWriter::new(file)));
        }
        let (name, file) = self.current.as_mut().unwrap();
        for r in batch {
            writeln!(file, "{},{}", r.value.0, r.value.1).map_err(io(format!("writing {name}")))?;
        }
        Ok(())
    }

    async fn prepare(&mut self, _epoch: u64) -> Result<Vec<String>> {
        if let Some((name, file)) = self.current.take() {
            let file = file
                .into_inner()
                .map_err(|e| Error::user(format!("flushing {name}"), e.into_error()))?;
            file.sync_all().map_err(io(format!("syncing {name}")))?;
            self.written.push(name);
        }
        Ok(std::mem::take(&mut self.written))
    }

    async fn commit(&mut self, epoch: u64, names: Vec<String>) -> Result<()> {
        for name in names {
            let from = self.tmp.join(&name);
            let to = self.out.join(format!("{epoch:06}-{name}"));
            match fs::rename(&from, &to) {
                Ok(()) => {}
                // Already published before a crash: idempotent.
                Err(_) if to.exists() => {}
                Err(e) => return Err(Error::user(format!("publishing {}", from.display()), e)),
            }
        }
        Ok(())
    }

    async fn recover(&mut self, last: Option<(u64, Vec<String>)>) -> Result<()> {
        if let Some((epoch, names)) = last {
            self.commit(epoch, names).await?;
        }
        for entry in fs::read_dir(&self.tmp).map_err(io("listing tmp".into()))? {
            let path = entry.map_err(io("listing tmp".into()))?.path();
            fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
        }
        Ok(())
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}
